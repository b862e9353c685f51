"""The municipality's client keys: create, rotate, the public JWKS, the current ones."""

import secrets

from django.db import transaction
from django.utils import timezone
from joserfc.jwk import ECKey, KeySet

from madoguchi.audit.services import record

from .models import ClientKey

ALGS = {ClientKey.Use.SIGNATURE: "ES256", ClientKey.Use.ENCRYPTION: "ECDH-ES+A256KW"}


def rotate(use: str | None = None) -> list[ClientKey]:
    """New keys (of `use`, or both) for the municipality in scope; the previous ones are
    retired but stay in the JWKS (the provider may still hold them) until withdrawn."""
    created = []
    with transaction.atomic():
        for kind in ([use] if use else [ClientKey.Use.SIGNATURE, ClientKey.Use.ENCRYPTION]):
            kid = f"{kind}-{secrets.token_hex(6)}"
            key = ECKey.generate_key("P-256", parameters={"use": kind, "alg": ALGS[kind], "kid": kid}, private=True)
            ClientKey.objects.filter(use=kind, retired_at__isnull=True).update(retired_at=timezone.now())
            created.append(ClientKey.objects.create(kid=kid, use=kind, alg=ALGS[kind],
                                                    private_jwk=key.as_dict(private=True),
                                                    public_jwk=key.as_dict(private=False)))
            record("natapp.key_rotated", actor=None, obj=created[-1], data={"kid": kid, "use": kind})
    return created


def withdraw(kid: str) -> bool:
    with transaction.atomic():
        key = ClientKey.objects.filter(kid=kid).first()
        if key is None:
            return False
        record("natapp.key_withdrawn", actor=None, obj=key, data={"kid": kid, "use": key.use})
        key.delete()
    return True


def current(use: str) -> ClientKey | None:
    return ClientKey.objects.filter(use=use, retired_at__isnull=True).order_by("-created_at").first()


def signing_key() -> tuple[str, ECKey] | None:
    key = current(ClientKey.Use.SIGNATURE)
    return (key.kid, ECKey.import_key(key.private_jwk)) if key else None


def decryption_keys() -> KeySet:
    """Every `enc` key the municipality holds (current first): a result names its key by kid."""
    rows = ClientKey.objects.filter(use=ClientKey.Use.ENCRYPTION).order_by("-created_at")
    return KeySet([ECKey.import_key(k.private_jwk) for k in rows])


def public_jwks() -> dict:
    return {"keys": [k.public_jwk for k in ClientKey.objects.order_by("use", "-created_at")]}
