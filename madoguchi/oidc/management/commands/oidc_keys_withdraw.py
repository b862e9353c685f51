from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import keys
from madoguchi.oidc.models import SigningKey


class Command(BaseCommand):
    help = ("Withdraw a compromised ID-token signing key: it leaves the JWKS and stops signing at once in every "
            "process; the next ID token is signed by a new key.")

    def add_arguments(self, parser):
        parser.add_argument("kid")
        parser.add_argument("--municipality", metavar="CODE")

    def handle(self, *args, kid, municipality, **options):
        rows = SigningKey.unscoped.filter(kid=kid)
        if municipality:
            rows = rows.filter(municipality__code=municipality)
        found = list(rows.select_related("municipality")[:2])
        if not found:
            raise CommandError(f"no signing key {kid!r}" + (f" in {municipality}" if municipality else ""),
                               returncode=2)
        if len(found) > 1:
            raise CommandError(f"two issuers hold the kid {kid!r}: name one with --municipality", returncode=2)
        owner = found[0].municipality
        with tenant(owner):
            try:
                row = keys.withdraw(owner, kid)
            except keys.KeyProblem as exc:
                raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(f"withdrawn {row.alg} key {row.kid} of {owner.code}: out of the JWKS, never signs again")
