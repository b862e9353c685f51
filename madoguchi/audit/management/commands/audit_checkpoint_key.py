import json

from django.core.management.base import BaseCommand, CommandError

from madoguchi.audit.checkpoints import CheckpointKeyError, public_key


class Command(BaseCommand):
    help = ("Print the public key (JWK) and RFC 7638 thumbprint of the audit checkpoint key, creating the "
            "key on first use. Keep both away from this machine.")

    def handle(self, *args, **options):
        try:
            key = public_key()
        except CheckpointKeyError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(f"thumbprint {key['thumbprint']}")
        self.stdout.write(json.dumps(key["jwk"], sort_keys=True))
