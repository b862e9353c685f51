"""`madoguchi moving import FILE`: receive a 転出 package exported by another deployment."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "import a signed 転出 package (the destination's 転入予定)"

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        from madoguchi.moving import package, services

        try:
            data = Path(options["file"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror}", returncode=2) from None
        try:
            move = services.receive(data)
        except package.PackageError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(f"received the move {move.application} from {move.origin_code} "
                          f"to {move.municipality.code}")
