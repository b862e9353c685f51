"""The issuer's signing keys (joserfc, Authlib's JOSE): created on first use, rotatable.

A rotated key stops signing at once but stays in the JWKS for RETAIN seconds (longer than
any ID token lives), so relying parties verify tokens signed just before the rotation.
"""

import datetime as dt
import time

from django.db import transaction
from django.utils import timezone
from joserfc.jwk import ECKey, KeySet, RSAKey

from madoguchi.audit.services import record

from .models import SigningKey

ID_TOKEN_LIFETIME = 600  # seconds
RETAIN = dt.timedelta(seconds=ID_TOKEN_LIFETIME + 3600)

_cache: dict = {}  # (municipality pk, alg) → (loaded at, kid, key); a rotation here clears it
CACHE_SECONDS = 30  # another process's rotation is noticed within this


def _generate(alg: str):
    if alg == "RS256":
        return RSAKey.generate_key(2048, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", auto_kid=True)
    raise ValueError(f"unsupported algorithm {alg!r}")


def _create(municipality, alg: str) -> SigningKey:
    key = _generate(alg)
    public = key.as_dict(private=False)
    public.update({"alg": alg, "use": "sig"})
    row = SigningKey.objects.create(kid=key.kid, alg=alg, private_jwk=key.as_dict(private=True), public_jwk=public)
    record("oidc.key_created", obj=row, data={"kid": row.kid, "alg": alg}, municipality=municipality)
    return row


def active_key(municipality, alg: str):
    """(kid, private key) that signs this issuer's `alg` tokens now."""
    cached = _cache.get((municipality.pk, alg))
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1], cached[2]
    with transaction.atomic():  # two processes may both create one: both stay valid, the newest signs
        row = SigningKey.objects.filter(alg=alg, retired_at=None).order_by("-created_at").first()
        if row is None:
            row = _create(municipality, alg)
    key = RSAKey.import_key(row.private_jwk) if alg == "RS256" else ECKey.import_key(row.private_jwk)
    _cache[(municipality.pk, alg)] = (time.monotonic(), row.kid, key)
    return row.kid, key


def rotate(municipality, alg: str) -> SigningKey:
    with transaction.atomic():
        now = timezone.now()
        for old in SigningKey.objects.select_for_update().filter(alg=alg, retired_at=None):
            old.retired_at = now
            old.save(update_fields=["retired_at"])
            record("oidc.key_retired", obj=old, data={"kid": old.kid, "alg": alg}, municipality=municipality)
        row = _create(municipality, alg)
    _cache.clear()
    return row


def public_jwks(municipality) -> dict:
    """Every key that signs now or signed a token that may still be valid."""
    since = timezone.now() - RETAIN
    rows = list(SigningKey.objects.filter(models_q_current(since)).order_by("alg", "-created_at"))
    missing = {"RS256", "ES256"} - {row.alg for row in rows if row.retired_at is None}
    if missing:
        with transaction.atomic():
            rows += [_create(municipality, alg) for alg in sorted(missing)]
        _cache.clear()
    return {"keys": [row.public_jwk for row in rows]}


def models_q_current(since):
    from django.db.models import Q

    return Q(retired_at=None) | Q(retired_at__gt=since)


def key_set(municipality) -> KeySet:
    return KeySet.import_key_set(public_jwks(municipality))
