"""Per-municipality VAPID keys (RFC 8292): a P-256 key in the data directory
(vapid/<code>.pem, mode 0600), created by `madoguchi demo` and by `madoguchi notices_vapid`.
The public key (the applicationServerKey) is handed to the browser when it subscribes."""

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings


def path_of(code: str) -> Path:
    return Path(settings.DATA_DIR) / "vapid" / f"{code}.pem"


def ensure(code: str, *, rotate: bool = False) -> bool:
    """Creates the municipality's key unless it exists (or replaces it); True if written."""
    path = path_of(code)
    if path.exists() and not rotate:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.replace(tmp, path)  # atomic: a reader sees the old key or the new one
    return True


def private_key(code: str):
    path = path_of(code)
    if not path.exists():
        return None
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key(code: str) -> str | None:
    """The applicationServerKey: the uncompressed point, base64url without padding."""
    key = private_key(code)
    if key is None:
        return None
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
