"""The one RSA / EC signature check over DER-encoded data (CRLs, OCSP responses).

The algorithm was already allowed by the caller (crlindex.ALLOWED_SIGNATURES); this only
asks whether the key signed the data. Any failure, including a key of another kind, is
False: an unverifiable signature is never a crash and never a pass.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def signature_verifies(key, signature: bytes, data: bytes, algorithm) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
