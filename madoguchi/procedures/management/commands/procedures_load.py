from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.procedures.services import DefinitionInvalid, catalog_dir, load


class Command(BaseCommand):
    help = "Check and publish procedure definitions (a file or a directory of *.json), all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="a definition file or a directory (default: the starter catalog)")
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--catalog", action="store_true", help="install the starter catalog")

    def handle(self, *args, path, municipality, catalog, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        if bool(path) == bool(catalog):
            raise CommandError("give a FILE or DIR, or --catalog", returncode=2)
        try:
            results = load(found, catalog_dir() if catalog else Path(path))
        except DefinitionInvalid as exc:
            raise CommandError(str(exc).splitlines()[0], returncode=2) from None
        for version, changed in results:
            state = f"published v{version.number}" if changed else f"unchanged (v{version.number})"
            self.stdout.write(f"{found.code} {version.procedure.slug}: {state}")
