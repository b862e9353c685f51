import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
from madoguchi.oidc import services
from madoguchi.oidc.models import Client, LegalBasis


class Command(BaseCommand):
    help = "Register an OpenID Connect relying party in a municipality; prints its client_id (and secret)."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", required=True, metavar="CODE")
        parser.add_argument("--name", required=True)
        parser.add_argument("--redirect-uri", required=True, action="append", dest="redirect_uris")
        parser.add_argument("--post-logout-redirect-uri", action="append", dest="post_logout_redirect_uris",
                            default=[])
        parser.add_argument("--scope", default="openid", help="space-separated: openid name address birthdate "
                                                              "gender sign applications")
        parser.add_argument("--legal-basis", required=True, choices=LegalBasis.values)
        parser.add_argument("--legal-basis-note", default="")
        parser.add_argument("--auth-method", required=True, choices=Client.AuthMethod.values,
                            help="none: a native app, a public client without a secret (RFC 8252)")
        parser.add_argument("--jwks", metavar="FILE", help="the client's public JWKS (private_key_jwt)")
        parser.add_argument("--alg", default="ES256", choices=Client.Algorithm.values, help="ID token algorithm")
        parser.add_argument("--sector", default="", help="pairwise subject sector (default: the client id)")

    def handle(self, *args, **o):
        found = Municipality.objects.filter(code=o["municipality"]).first()
        if found is None:
            raise CommandError(f"--municipality {o['municipality']}: no such municipality", returncode=2)
        jwks = None
        if o["jwks"]:
            try:
                with open(o["jwks"], encoding="utf-8") as f:
                    jwks = json.load(f)
            except (OSError, ValueError) as exc:
                raise CommandError(f"--jwks {o['jwks']}: {exc}", returncode=2) from None
        with tenant(found):
            try:
                client, secret = services.register_client(
                    name=o["name"], redirect_uris=o["redirect_uris"],
                    post_logout_redirect_uris=o["post_logout_redirect_uris"], scopes=set(o["scope"].split()),
                    legal_basis=o["legal_basis"], legal_basis_note=o["legal_basis_note"],
                    auth_method=o["auth_method"], jwks=jwks, id_token_alg=o["alg"], sector=o["sector"],
                    actor=("operator", "cli"))
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages), returncode=2) from None
        self.stdout.write(f"client_id: {client.client_id}")
        if secret:
            self.stdout.write(f"client_secret (shown once): {secret}")
        if client.is_public:
            self.stdout.write("native app (public client): no secret; PKCE S256 binds each code to the app")
        issuer = f"{settings.OIDC_ISSUER_BASE or settings.SITE_URL}/{found.code}"
        self.stdout.write(f"issuer: {issuer}")
        self.stdout.write(f"discovery: {issuer}/.well-known/openid-configuration")
        if not settings.OIDC_ISSUER_BASE:
            self.stdout.write("(MADOGUCHI_OIDC_ISSUER_BASE is not set: the issuer follows the host the relying party "
                              "calls; set it in production)")
