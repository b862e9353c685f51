"""Per-municipality VAPID keys (RFC 8292): a P-256 key in the data directory
(vapid/<code>.pem, mode 0600), created by `madoguchi demo` and by `madoguchi notices_vapid`.
The public key (the applicationServerKey) is handed to the browser when it subscribes.

Rotation without losing subscriptions: `rotate` keeps the replaced key under
vapid/<code>.previous/<fingerprint>.pem; each subscription remembers the key it was made
with (`PushSubscription.vapid_key`) and is pushed with that key until the device subscribes
again (the page does so with the new key on the resident's next visit). `retire` deletes the
previous keys and the subscriptions still bound to them (those devices must subscribe again)."""

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction


def path_of(code: str) -> Path:
    return Path(settings.DATA_DIR) / "vapid" / f"{code}.pem"


def previous_dir(code: str) -> Path:
    return Path(settings.DATA_DIR) / "vapid" / f"{code}.previous"


def fingerprint(public: str) -> str:
    return hashlib.sha256(public.encode()).hexdigest()[:16]


def _write(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.replace(tmp, path)  # atomic: a reader sees the old key or the new one


def ensure(code: str, *, rotate: bool = False) -> bool:
    """Creates the municipality's key unless it exists (or, with rotate, replaces it and
    keeps the replaced one for the devices subscribed with it); True if written."""
    path = path_of(code)
    if path.exists() and not rotate:
        return False
    if path.exists():
        _keep_previous(code)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(path, pem)
    return True


def _keep_previous(code: str) -> None:
    from madoguchi.notices.models import PushSubscription

    current = public_key(code)
    # Subscriptions that do not name their key were made with the current one: say so now.
    PushSubscription.unscoped.filter(municipality__code=code, vapid_key="").update(vapid_key=current)
    _write(previous_dir(code) / f"{fingerprint(current)}.pem", path_of(code).read_bytes())


def _load(path: Path):
    if not path.exists():
        return None
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _public(key) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def private_key(code: str, public: str = ""):
    """The current key, or (given the public key a device subscribed with) the key that
    matches it: the current one or a kept previous one; None if there is none."""
    current = _load(path_of(code))
    if not public or (current is not None and _public(current) == public):
        return current
    kept = _load(previous_dir(code) / f"{fingerprint(public)}.pem")
    return kept if kept is not None and _public(kept) == public else None


_signers: dict = {}


def signer(code: str, public: str = ""):
    """A py_vapid signer for the key a device subscribed with (cached per key file)."""
    from py_vapid import Vapid02

    key = private_key(code, public)
    if key is None:
        return None
    cache_key = _public(key)  # the key material, whoever asks
    if cache_key not in _signers:
        if len(_signers) > 256:
            _signers.clear()
        _signers[cache_key] = Vapid02(private_key=key)
    return _signers[cache_key]


def public_key(code: str) -> str | None:
    """The applicationServerKey: the uncompressed point, base64url without padding."""
    key = private_key(code)
    return None if key is None else _public(key)


def known_public_keys(code: str) -> list[str]:
    """The current key first, then the kept previous ones."""
    keys = [k for k in [public_key(code)] if k]
    folder = previous_dir(code)
    if folder.exists():
        keys += sorted(_public(_load(p)) for p in folder.glob("*.pem"))
    return keys


def retire(code: str) -> int:
    """Deletes the previous keys and the subscriptions still bound to them (audited); returns
    how many subscriptions were removed."""
    from madoguchi.audit.services import record
    from madoguchi.municipalities.models import Municipality
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.notices.models import PushSubscription

    current = public_key(code)
    municipality = Municipality.objects.get(code=code)
    with tenant(municipality), transaction.atomic():
        stale = PushSubscription.objects.exclude(vapid_key="").exclude(vapid_key=current)
        removed = 0
        for row in stale:
            record("notices.push_removed", obj=row, data={"by": "vapid key retired"})
            row.delete()
            removed += 1
        record("notices.vapid_retired", obj=municipality, data={"subscriptions_removed": removed})
    folder = previous_dir(code)
    if folder.exists():
        for p in folder.glob("*.pem"):
            p.unlink()
        folder.rmdir()
    return removed
