from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from madoguchi.municipalities.models import Municipality
from madoguchi.registry import UnknownName
from madoguchi.residents.adapters.base import SourceUnreadable, open_source
from madoguchi.residents.services import ImportRejected, import_records


class Command(BaseCommand):
    help = "Import resident records from the core system's delivery (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--encoding", default="utf-8-sig", choices=["utf-8-sig", "cp932"])
        parser.add_argument("--source", default=None, metavar="NAME",
                            help="the record source (default settings.RESIDENT_RECORD_SOURCE)")

    def handle(self, *args, file, municipality, encoding, source, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        name = source or settings.RESIDENT_RECORD_SOURCE
        try:
            source = open_source(name, file, encoding)
            total = source.size_hint()
        except UnknownName as exc:
            raise CommandError(str(exc), returncode=2) from None
        except (OSError, SourceUnreadable) as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        try:
            with tqdm(total=total, desc="reading", unit="row", disable=None) as bar:
                result = import_records(found, source, progress=bar.update)
        except SourceUnreadable as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}:{error.line}: {error.message}")
            raise CommandError(f"{file}: {exc}", returncode=2) from None
        self.stdout.write(f"imported into {found.code}: {result.created} new, {result.updated} updated, "
                          f"{result.unchanged} unchanged")
