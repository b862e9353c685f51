from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import keys


class Command(BaseCommand):
    help = "Rotate a municipality's ID-token signing key; the old key stays in the JWKS until its tokens expire."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--alg", required=True, choices=["RS256", "ES256"])

    def handle(self, *args, municipality, alg, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise CommandError(f"--municipality {municipality}: no such municipality", returncode=2)
        with tenant(found):
            row = keys.rotate(found, alg)
        self.stdout.write(f"new {alg} key: {row.kid}")
