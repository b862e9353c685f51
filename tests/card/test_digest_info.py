"""The DigestInfo sent to the card is the standard 51-byte form with NULL parameters, and
the virtual card signs exactly the bytes it is given (so a wrong form fails verification)."""

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from madoguchi.card.jpki import digest_info_sha256
from madoguchi.card.virtual import pkcs1_sign
from madoguchi.pki.cms import digest_info

STANDARD_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_digest_info_has_the_null_parameters():
    digest = hashlib.sha256(b"madoguchi").digest()
    assert digest_info_sha256(digest) == STANDARD_PREFIX + digest
    assert digest_info(digest) == STANDARD_PREFIX + digest


def test_the_virtual_card_signs_what_it_is_given(key):
    message = b"madoguchi"
    digest = hashlib.sha256(message).digest()
    good = pkcs1_sign(key, STANDARD_PREFIX + digest)
    key.public_key().verify(good, message, padding.PKCS1v15(), hashes.SHA256())
    without_null = bytes.fromhex("302f300b0609608648016503040201") + bytes.fromhex("0420") + digest
    bad = pkcs1_sign(key, without_null)
    with pytest.raises(InvalidSignature):
        key.public_key().verify(bad, message, padding.PKCS1v15(), hashes.SHA256())
