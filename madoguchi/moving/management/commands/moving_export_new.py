"""`madoguchi moving export --municipality CODE --new FILE`: every signed 転出 package and 転入通知
for a municipality on another deployment not exported yet, as one exchange file (the nightly
run of the national exchange; the other side runs `moving import FILE`)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from .moving_export import municipality_named, write_whole


class Command(BaseCommand):
    help = "write every 転出 package and 転入通知 not exported yet as one exchange file"

    def add_arguments(self, parser):
        parser.add_argument("municipality")
        parser.add_argument("file")

    def handle(self, *args, **options):
        from madoguchi.moving import services

        municipality = municipality_named(options["municipality"])
        path = Path(options["file"])
        if path.exists():  # a file of the last run is never overwritten
            raise CommandError(f"{path} exists: name a new file", returncode=2)
        moves, notices = services.export_new(municipality, lambda data: write_whole(path, data))
        if not moves and not notices:
            self.stdout.write(f"no new 転出 package or 転入通知 to export in {municipality.code}")
            return
        self.stdout.write(f"wrote {len(moves)} 転出 package(s) and {len(notices)} 転入通知 of {municipality.code} "
                          f"to {path}")
