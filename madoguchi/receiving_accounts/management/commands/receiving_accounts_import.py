from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.receiving_accounts.adapters.base import SourceUnreadable, open_source
from madoguchi.receiving_accounts.services import ImportRejected, import_extract
from madoguchi.registry import UnknownName


class Command(BaseCommand):
    help = "Import the national 公金受取口座 registry's extract (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "cp932"])
        parser.add_argument("--source", default="csv", metavar="NAME")

    def handle(self, *args, file, municipality, encoding, source, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        try:
            extract = open_source(source, file, encoding)
            report = import_extract(found, extract)
        except UnknownName as exc:
            raise CommandError(str(exc), returncode=2) from None
        except (OSError, SourceUnreadable) as exc:
            raise CommandError(f"{file}: {getattr(exc, 'strerror', None) or exc}", returncode=2) from None
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}: {error}")
            raise CommandError(f"{file}: {exc}", returncode=1) from None
        self.stdout.write(f"imported into {found.code}: {report.created} new, {report.changed} changed, "
                          f"{report.unchanged} unchanged, {report.held} held for review, "
                          f"{report.kept_portal} kept (signed in the portal)")
