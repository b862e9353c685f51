"""Request signatures between a terminal and the server: Ed25519 over a canonical string.

canonical = method "\n" path "\n" terminal id "\n" timestamp "\n" hex sha256(body). The server
refuses a timestamp more than `MAX_SKEW` seconds away from its clock (a replayed upload is
harmless anyway: events are idempotent by their id).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_SKEW = 300
HEADER_ID, HEADER_TIME, HEADER_SIG = "X-Terminal-Id", "X-Terminal-Time", "X-Terminal-Signature"
# Not signed, a hint: the revocation index version the terminal holds; when the server's is
# the same, the lists answer leaves the (large, rarely changing) index out.
HEADER_REVOKED_VERSION = "X-Terminal-Revoked-Version"


def canonical(method: str, path: str, terminal_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, terminal_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


def new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("a terminal key must be Ed25519")
    return key


def load_public(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise ValueError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a terminal key must be Ed25519")
    return key


def sign(key: Ed25519PrivateKey, method: str, path: str, terminal_id: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(key.sign(canonical(method, path, terminal_id, timestamp, body))).decode()


def verify(public: Ed25519PublicKey, signature: str, method: str, path: str, terminal_id: str,
           timestamp: str, body: bytes) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True),
                      canonical(method, path, terminal_id, timestamp, body))
    except (InvalidSignature, ValueError):
        return False
    return True
