"""The issuer's signing keys (joserfc, Authlib's JOSE): created on first use, rotatable,
withdrawable.

A rotated key stops signing at once but stays in the JWKS for RETAIN seconds (longer than
any ID token lives), so relying parties verify tokens signed just before the rotation. A
withdrawn key (compromised) leaves the JWKS at once and never signs again.

Every process reads which key signs from the database at every signing (one indexed
query; only the parsed private key is cached, by kid, and a key never changes): a rotation
or withdrawal by any process — `madoguchi oidc keys rotate|withdraw` — holds for the
next ID token every process signs. The JWKS is built per request too; relying parties may
cache it for JWKS_MAX_AGE seconds.
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

JWKS_MAX_AGE = 60  # Cache-Control of the JWKS: how long a relying party may keep a withdrawn key

_cache: dict = {}  # kid → parsed private key (a key row never changes; only which one signs does)


class KeyProblem(Exception):
    """A key operation that cannot be done (unknown kid, already withdrawn)."""


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
    current = (SigningKey.objects.filter(alg=alg, retired_at=None, withdrawn_at=None)
               .order_by("-created_at").only("kid", "private_jwk"))
    row = current.first()  # one statement on the hot path: no transaction around a read
    if row is None:
        with transaction.atomic():  # two processes may both create one: both stay valid, the newest signs
            row = current.first() or _create(municipality, alg)
    key = _cache.get(row.kid)
    if key is None:
        key = RSAKey.import_key(row.private_jwk) if alg == "RS256" else ECKey.import_key(row.private_jwk)
        _cache[row.kid] = key
    return row.kid, key


def rotate(municipality, alg: str) -> SigningKey:
    with transaction.atomic():
        now = timezone.now()
        for old in SigningKey.objects.select_for_update().filter(alg=alg, retired_at=None):
            old.retired_at = now
            old.save(update_fields=["retired_at"])
            record("oidc.key_retired", obj=old, data={"kid": old.kid, "alg": alg}, municipality=municipality)
        row = _create(municipality, alg)
    return row


def withdraw(municipality, kid: str, actor=("operator", "cli")) -> SigningKey:
    """A compromised key: out of the JWKS and refused for signing from now on, in every
    process (the next ID token is signed by a new key of the same algorithm)."""
    with transaction.atomic():
        row = SigningKey.objects.select_for_update().filter(kid=kid).first()
        if row is None:
            raise KeyProblem(f"no signing key {kid!r} in {municipality.code}")
        if row.withdrawn_at is not None:
            raise KeyProblem(f"key {kid} was already withdrawn at {row.withdrawn_at.isoformat()}")
        now = timezone.now()
        row.withdrawn_at = now
        row.retired_at = row.retired_at or now
        row.save(update_fields=["withdrawn_at", "retired_at"])
        record("oidc.key_withdrawn", actor=actor, obj=row, data={"kid": row.kid, "alg": row.alg},
               municipality=municipality)
    _cache.pop(kid, None)
    return row


def public_jwks(municipality) -> dict:
    """Every key that signs now or signed a token that may still be valid."""
    since = timezone.now() - RETAIN
    rows = list(SigningKey.objects.filter(models_q_current(since), withdrawn_at=None).order_by("alg", "-created_at"))
    missing = {"RS256", "ES256"} - {row.alg for row in rows if row.retired_at is None}
    if missing:
        with transaction.atomic():
            rows += [_create(municipality, alg) for alg in sorted(missing)]
    return {"keys": [row.public_jwk for row in rows]}


def models_q_current(since):
    from django.db.models import Q

    return Q(retired_at=None) | Q(retired_at__gt=since)


def key_set(municipality) -> KeySet:
    return KeySet.import_key_set(public_jwks(municipality))
