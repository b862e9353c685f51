"""`madoguchi moving export --municipality CODE RECEIPT FILE`: the signed 転出 package of an
accepted 転出届, for a destination on another deployment (which runs `moving import`)."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def write_whole(path: Path, data: bytes) -> None:
    """Written whole or not at all: a half file would be refused by the destination anyway."""
    try:
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}", returncode=2) from None


def municipality_named(code: str):
    from madoguchi.municipalities.models import Municipality

    municipality = Municipality.objects.filter(code=code).first()
    if municipality is None:
        raise CommandError(f"no municipality {code!r} on this deployment", returncode=2)
    return municipality


class Command(BaseCommand):
    help = "write the signed 転出 package of an accepted 転出届"

    def add_arguments(self, parser):
        parser.add_argument("municipality")
        parser.add_argument("application")
        parser.add_argument("file")

    def handle(self, *args, **options):
        from madoguchi.moving import services
        from madoguchi.moving.models import OutgoingMove
        from madoguchi.municipalities.tenancy import tenant

        municipality = municipality_named(options["municipality"])
        with tenant(municipality):
            move = OutgoingMove.objects.filter(application=options["application"]).first()
            if move is None:
                raise CommandError(f"no accepted 転出届 {options['application']!r} in {municipality.code}", returncode=2)
            try:
                data = services.export(move)
            except services.MoveError as exc:
                raise CommandError(exc.message, returncode=2) from None
        path = Path(options["file"])
        write_whole(path, data)
        self.stdout.write(f"wrote the 転出 package {move.application} for {move.destination_code} to {path}")
