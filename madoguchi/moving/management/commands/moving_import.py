"""`madoguchi moving import FILE`: receive what another deployment exported — one 転出 package
or 転入通知, or an exchange file of many (`moving export --new`)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class Command(BaseCommand):
    help = "import a signed 転出 package or an exchange file of them (the destination's 転入予定)"

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **options):
        from madoguchi.moving import package, services
        from madoguchi.moving.models import OutgoingMove

        file = options["file"]
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", returncode=2) from None
        try:
            envelopes, is_batch = package.envelopes(data)
        except package.PackageError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if not is_batch:
            try:
                move = services.receive(data)
            except package.PackageError as exc:
                raise CommandError(str(exc), returncode=2) from None
            if isinstance(move, OutgoingMove):
                self.stdout.write(f"received the 転入通知 of {move.application}: moved out of {move.municipality.code} "
                                  f"to {move.destination_code}")
            else:
                self.stdout.write(f"received the move {move.application} from {move.origin_code} "
                                  f"to {move.municipality.code}")
            return
        with tqdm(total=len(envelopes), desc="verifying", unit="package", disable=None) as bar:
            result = services.receive_many(envelopes, progress=bar.update)
        for refusal in result.refused:
            named = f" ({refusal.application})" if refusal.application else ""
            self.stderr.write(f"{file}: package {refusal.position}{named}: {refusal.reason}")
        self.stdout.write(f"received {len(result.moves) + len(result.notices)} of {len(envelopes)} packages "
                          f"({len(result.moves)} 転入予定, {len(result.notices)} 転入通知)")
        if result.refused:
            raise CommandError(f"{file}: {len(result.refused)} of {len(envelopes)} packages refused (listed above; "
                               "the others are received)", returncode=2)
