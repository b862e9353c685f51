"""Individual numbers (個人番号): AES-GCM sealing with key ids. Validation, normalisation and
masking are the card library's (madoguchi/card/mynumber.py), re-exported here.

Keys come from settings.MYNUMBER_KEYS ("kid:base64(32 bytes),…"; the first seals, every
one opens, so keys rotate). When unset, dev and test use a key generated once into the
data directory (`mynumber.key`); production refuses (KeysUnavailable). The number itself
is never logged, put in a notice, an audit event, a search key or an ordinary export.
"""

import base64
import binascii
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from madoguchi.card.mynumber import is_valid, mask, normalize  # noqa: F401  (the one rule, card/)

NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeysUnavailable(ImproperlyConfigured):
    """No My Number key is configured where a development key is not allowed."""


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    keys = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        kid, sep, encoded = part.partition(":")
        if not sep or not _KID.match(kid):
            raise ImproperlyConfigured("MADOGUCHI_MYNUMBER_KEYS: each key is kid:base64 (kid of letters, digits, _.-)")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"MADOGUCHI_MYNUMBER_KEYS: key {kid} is not base64") from None
        if len(key) != 32:
            raise ImproperlyConfigured(f"MADOGUCHI_MYNUMBER_KEYS: key {kid} must be 32 bytes (AES-256)")
        if any(k == kid for k, _ in keys):
            raise ImproperlyConfigured(f"MADOGUCHI_MYNUMBER_KEYS: key id {kid} appears twice")
        keys.append((kid, key))
    return keys


def _development_key_spec() -> str:
    path = settings.DATA_DIR / "mynumber.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        spec = "dev1:" + base64.b64encode(os.urandom(32)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, spec.encode())
        finally:
            os.close(fd)
    return path.read_text().strip()


@lru_cache(maxsize=4)
def _keys_for(spec: str, dev_allowed: bool, data_dir: str) -> tuple[tuple[str, bytes], ...]:
    if not spec:
        if not dev_allowed:
            raise KeysUnavailable("MADOGUCHI_MYNUMBER_KEYS is not set: production does not store individual numbers "
                                  "without a configured key")
        spec = _development_key_spec()
    keys = parse_keys(spec)
    if not keys:
        raise KeysUnavailable("MADOGUCHI_MYNUMBER_KEYS has no key")
    return tuple(keys)


def keys() -> tuple[tuple[str, bytes], ...]:
    return _keys_for(settings.MYNUMBER_KEYS, settings.MYNUMBER_DEVELOPMENT_KEY_ALLOWED, str(settings.DATA_DIR))


def seal(plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
    """(key id, nonce || ciphertext+tag) under the current key; `aad` binds it to its place."""
    kid, key = keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    return kid, nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(kid: str, blob: bytes, aad: bytes) -> bytes:
    key = dict(keys()).get(kid)
    if key is None:
        raise KeysUnavailable(f"My Number key {kid} is no longer configured")
    blob = bytes(blob)
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
