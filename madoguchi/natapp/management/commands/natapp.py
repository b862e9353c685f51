"""`madoguchi natapp …`: the municipality's registration with the national authentication
app and its client keys (docs/card_paths.md).

    madoguchi natapp configure --municipality 139998 --issuer URL --client-id ID
    madoguchi natapp keys rotate --municipality 139998 [--use sig|enc]
    madoguchi natapp keys list --municipality 139998
    madoguchi natapp keys withdraw --municipality 139998 KID
    madoguchi natapp jwks --municipality 139998        # the public keys to register
    madoguchi natapp show --municipality 139998
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from madoguchi.audit.services import record
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant

from ... import keys, rp
from ...models import ClientKey, Registration


def _usage(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "The national authentication app: registration (issuer, client id) and the client keys."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        configure = sub.add_parser("configure", help="the issuer URL and client id the Digital Agency registered")
        configure.add_argument("--issuer", required=True)
        configure.add_argument("--client-id", required=True)
        key_cmd = sub.add_parser("keys", help="rotate, list or withdraw the client keys")
        key_cmd.add_argument("key_action", choices=["rotate", "list", "withdraw"])
        key_cmd.add_argument("kid", nargs="?")
        key_cmd.add_argument("--use", choices=["sig", "enc"])
        sub.add_parser("jwks", help="print the public JWKS (what the provider registers)")
        sub.add_parser("show", help="the registration and the current keys")
        for p in sub.choices.values():
            p.add_argument("--municipality", required=True)

    def handle(self, *args, action, municipality, **options):
        found = Municipality.objects.filter(code=municipality).first()
        if found is None:
            raise _usage(f"--municipality: no municipality {municipality}")
        with tenant(found):
            getattr(self, f"_{action}")(found, **options)

    def _configure(self, municipality, *, issuer, client_id, **options):
        parts = urlsplit(issuer)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise _usage("--issuer: an absolute https URL without query or fragment")
        if parts.scheme == "http" and not settings.DEBUG and not getattr(settings, "DEMO_ALLOWED", False):
            raise _usage("--issuer: https is required outside development")
        if not 1 <= len(client_id) <= 200 or any(c.isspace() for c in client_id):
            raise _usage("--client-id: 1-200 characters without spaces")
        with transaction.atomic():
            Registration.objects.update_or_create(defaults={"issuer": issuer.rstrip("/"), "client_id": client_id})
            record("natapp.configured", actor=None, obj=municipality, data={"client_id": client_id})
            if keys.current(ClientKey.Use.SIGNATURE) is None:
                keys.rotate()
        rp.forget()
        self._show(municipality)

    def _keys(self, municipality, *, key_action, kid, use, **options):
        if key_action == "rotate":
            for key in keys.rotate(use):
                self.stdout.write(f"new {key.use} key {key.kid} (register the new JWKS with the provider)")
        elif key_action == "withdraw":
            if not kid:
                raise _usage("keys withdraw: KID")
            if not keys.withdraw(kid):
                raise _usage(f"keys withdraw: no key {kid}")
            self.stdout.write(f"withdrew {kid}")
        else:
            for key in ClientKey.objects.order_by("use", "-created_at"):
                state = "retired " + key.retired_at.isoformat() if key.retired_at else "current"
                self.stdout.write(f"{key.use} {key.kid} {key.alg} {key.created_at.isoformat()} {state}")

    def _jwks(self, municipality, **options):
        self.stdout.write(json.dumps(keys.public_jwks(), indent=1))

    def _show(self, municipality, **options):
        registration = Registration.objects.first()
        if registration is None:
            self.stdout.write("not configured")
            return
        self.stdout.write(f"issuer    {registration.issuer}\nclient_id {registration.client_id}")
        for use in (ClientKey.Use.SIGNATURE, ClientKey.Use.ENCRYPTION):
            key = keys.current(use)
            self.stdout.write(f"{use} key   {key.kid if key else '(none)'}")
