"""The 転出証明書に代わる情報 as a signed JSON package (issue 23, part 1).

Pure code (no Django): the caller gives the origin municipality's signing identity
(`documents.services.identity`) to sign and the trust roots
(`documents.services.trust_roots`) to verify.

Envelope (CHOICE, the real format between municipalities is not public):
    {"format": "madoguchi-moving/1",
     "payload": base64(canonical JSON),           # sorted keys, no spaces, UTF-8
     "signature": base64(signature over the payload bytes),
     "algorithm": "RS256" | "ES256",
     "certificates": [PEM of the signer, then its chain up to (not including) the root]}
The individual number is never part of the payload.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import threading

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

_SHA256 = hashes.SHA256()
FORMAT = "madoguchi-moving/1"
MAX_BYTES = 1_000_000
FORBIDDEN_KEYS = {"individual_number", "my_number", "kojin_bango"}


class PackageError(ValueError):
    """A package that cannot be trusted or read; the message is one line."""


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _check_no_number(value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in FORBIDDEN_KEYS:
                raise PackageError(f"the package must not carry {k}")
            _check_no_number(v)
    elif isinstance(value, list):
        for v in value:
            _check_no_number(v)


def sign(identity, payload: dict) -> bytes:
    """The signed package's bytes, made with `identity` (lgpki.SigningIdentity)."""
    _check_no_number(payload)
    body = canonical(payload)
    key = identity.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature, algorithm = key.sign(body, padding.PKCS1v15(), hashes.SHA256()), "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature, algorithm = key.sign(body, ec.ECDSA(hashes.SHA256())), "ES256"
    else:
        raise PackageError("unsupported signing key")
    certs = [identity.certificate, *[c for c in identity.chain if c.issuer != c.subject]]
    envelope = {
        "format": FORMAT,
        "payload": base64.b64encode(body).decode(),
        "signature": base64.b64encode(signature).decode(),
        "algorithm": algorithm,
        "certificates": [c.public_bytes(serialization.Encoding.PEM).decode() for c in certs],
    }
    return json.dumps(envelope, ensure_ascii=False, indent=1).encode()


def _b64(value, what: str) -> bytes:
    if not isinstance(value, str):
        raise PackageError(f"{what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PackageError(f"{what} is not base64") from None


def _chain_to_root(certs: list[x509.Certificate], roots: list[x509.Certificate], at: dt.datetime) -> None:
    for cert in certs:
        if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
            raise PackageError("a certificate of the package is not valid now")
    for child, parent in zip(certs, certs[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise PackageError("the package's certificate chain is broken") from None
    top = certs[-1]
    for root in roots:
        try:
            top.verify_directly_issued_by(root)
            return
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise PackageError("the package's signer does not chain to a trusted root")


@functools.lru_cache(maxsize=256)
def _certificates(pems: tuple[str, ...]) -> list[x509.Certificate]:
    try:
        return [x509.load_pem_x509_certificate(p.encode()) for p in pems]
    except ValueError:
        raise PackageError("a certificate of the package cannot be read") from None


_chains: dict[tuple, bool] = {}
_chains_lock = threading.Lock()


def _trusted(pems: tuple[str, ...], certs, roots, at: dt.datetime) -> None:
    """The chain walk, remembered per (chain, roots): a municipality sends every package with
    the same chain. The validity period is still checked on every call."""
    for cert in certs:
        if not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc):
            raise PackageError("a certificate of the package is not valid now")
    key = (pems, tuple(r.fingerprint(_SHA256) for r in roots))
    if _chains.get(key):
        return
    _chain_to_root(certs, roots, at)
    with _chains_lock:
        if len(_chains) > 1024:
            _chains.clear()
        _chains[key] = True


def verify(data: bytes, roots: list[x509.Certificate], *, at: dt.datetime | None = None) -> tuple[dict, x509.Certificate]:
    """The payload and the signer's certificate of a package whose signature verifies and
    whose signer chains to one of `roots`; PackageError otherwise."""
    return verify_envelope(load(data), roots, at=at)


def load(data: bytes):
    """The envelope of one package's bytes, parsed, not yet verified."""
    if len(data) > MAX_BYTES:
        raise PackageError("the package is too large")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PackageError("the file is not a JSON package") from None


def verify_envelope(envelope, roots: list[x509.Certificate], *,
                    at: dt.datetime | None = None) -> tuple[dict, x509.Certificate]:
    """`verify` for a package already parsed (one of a batch)."""
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise PackageError(f"the file is not a {FORMAT} package")
    if len(str(envelope.get("payload", ""))) > MAX_BYTES:
        raise PackageError("the package is too large")
    body = _b64(envelope.get("payload"), "payload")
    signature = _b64(envelope.get("signature"), "signature")
    pems = envelope.get("certificates")
    if not isinstance(pems, list) or not pems or not all(isinstance(p, str) for p in pems):
        raise PackageError("the package carries no certificate")
    certs = _certificates(tuple(pems))
    public = certs[0].public_key()
    algorithm = envelope.get("algorithm")
    try:
        if algorithm == "RS256" and isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        elif algorithm == "ES256" and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, body, ec.ECDSA(hashes.SHA256()))
        else:
            raise PackageError("the package's algorithm does not match its certificate")
    except InvalidSignature:
        raise PackageError("the package's signature does not verify") from None
    _trusted(tuple(pems), certs, roots, at or dt.datetime.now(dt.timezone.utc))
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PackageError("the package's payload is not JSON") from None
    if not isinstance(payload, dict):
        raise PackageError("the package's payload is not an object")
    _check_no_number(payload)
    return payload, certs[0]


# -- the exchange file: many packages, for one import ------------------------------------

BATCH_FORMAT = "madoguchi-moving-batch/1"
MAX_BATCH_BYTES = 512_000_000  # read whole; about 100,000 packages


def batch(packages: list[bytes]) -> bytes:
    """One exchange file of signed packages (each as `sign` made it), for one `moving import`."""
    return json.dumps({"format": BATCH_FORMAT, "packages": [json.loads(p) for p in packages]},
                      ensure_ascii=False, indent=1).encode()


def envelopes(data: bytes) -> tuple[list, bool]:
    """The packages of a file, each still to be verified, and whether the file is a batch
    (else it is one package)."""
    if len(data) > MAX_BATCH_BYTES:
        raise PackageError("the file is too large")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PackageError("the file is not a JSON package") from None
    if isinstance(document, dict) and document.get("format") == BATCH_FORMAT:
        packages = document.get("packages")
        if not isinstance(packages, list) or not packages:
            raise PackageError("the batch carries no package")
        return packages, True
    if len(data) > MAX_BYTES:
        raise PackageError("the package is too large")
    return [document], False
