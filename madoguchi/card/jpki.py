"""The JPKI application (公的個人認証AP): certificates, token information, PIN status,
VERIFY, signing a digest with the authentication or signature key, PIN change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import algos

from . import apdu as A
from . import constants as C
from .transport import Channel

PURPOSE_EFS = {
    "auth": (C.EF_AUTH_CERT, C.EF_AUTH_KEY, C.AUTH_PIN),
    "sign": (C.EF_SIGN_CERT, C.EF_SIGN_KEY, C.SIGN_PASSWORD),
}
CA_EFS = {"auth": C.EF_AUTH_CA_CERT, "sign": C.EF_SIGN_CA_CERT}


class InvalidPinFormat(ValueError):
    """A PIN or password the card would never accept; checked before it costs a try."""


@dataclass(frozen=True)
class PinStatus:
    tries_left: int
    verified: bool = False

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0 and not self.verified


def digest_info_sha256(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    # No "parameters" key: asn1crypto then writes the NULL that PKCS#1 (RFC 8017 §9.2)
    # requires. `"parameters": None` would drop it, and a real card signs exactly the
    # 49 bytes it is given — a signature no verifier accepts.
    return algos.DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": digest}).dump()


def normalise_password(password: str) -> str:
    """The card expects the signature password in upper case (myna upper-cases it too)."""
    return password.upper()


def check_format(policy: C.PinPolicy, value: str) -> bytes:
    if not policy.valid(value):
        raise InvalidPinFormat(f"{policy.label} must be {policy.description}")
    return value.encode("ascii")


class JpkiAP:
    def __init__(self, channel: Channel):
        self.channel = channel
        # The purpose whose PIN or password was verified last ('auth' or 'sign'): a refusal
        # (wrong PIN, blocked, bad format) is about that secret, so a page can name it.
        self.verifying: str | None = None

    def select(self) -> None:
        self.channel.select_aid(C.AID_JPKI)

    def token_label(self) -> str:
        self.select()
        info = self.channel.read_fixed(C.EF_TOKEN_INFO, 32)
        return info.rstrip(b" \x00").decode("ascii", "replace")

    def certificate(self, purpose: str) -> bytes:
        """DER of the user certificate ('auth' needs no PIN on a card; 'sign' needs the password)."""
        self.select()
        return self.channel.read_tlv_file(PURPOSE_EFS[purpose][0])

    def certificate_after_verify(self, purpose: str, secret: str) -> bytes:
        self.select()
        self._verify_selected(purpose, secret)
        return self.channel.read_tlv_file(PURPOSE_EFS[purpose][0])

    def ca_certificate(self, purpose: str) -> bytes:
        self.select()
        return self.channel.read_tlv_file(CA_EFS[purpose])

    def pin_status(self, purpose: str) -> PinStatus:
        """Tries left, read with an empty VERIFY (63Cx); consumes no try."""
        self.select()
        self.channel.select_ef(PURPOSE_EFS[purpose][2].ef)
        return _status(self.channel.exchange(A.verify()))

    def verify(self, purpose: str, secret: str) -> None:
        self.select()
        self._verify_selected(purpose, secret)

    def _verify_selected(self, purpose: str, secret: str) -> None:
        policy = PURPOSE_EFS[purpose][2]
        self.verifying = purpose
        if purpose == "sign":
            secret = normalise_password(secret)
        data = check_format(policy, secret)
        self.channel.select_ef(policy.ef)
        self.channel.send(A.verify(data))

    def sign_digest(self, purpose: str, digest: bytes, secret: str | None = None) -> bytes:
        """PKCS#1 v1.5 signature of a SHA-256 digest by the card's key; verifies first when given `secret`."""
        info = digest_info_sha256(digest)
        self.select()
        if secret is not None:
            self._verify_selected(purpose, secret)
        self.channel.select_ef(PURPOSE_EFS[purpose][1])
        return self.channel.send(A.sign(info))

    def sign_digest_info(self, purpose: str, digest_info: bytes) -> bytes:
        """Signs an arbitrary DigestInfo in the current session (the PIN must have been verified)."""
        self.channel.select_ef(PURPOSE_EFS[purpose][1])
        return self.channel.send(A.sign(digest_info))

    def sign_data(self, purpose: str, data: bytes, secret: str | None = None) -> bytes:
        return self.sign_digest(purpose, hashlib.sha256(data).digest(), secret)

    def change_pin(self, purpose: str, old: str, new: str) -> None:
        policy = PURPOSE_EFS[purpose][2]
        if purpose == "sign":
            old, new = normalise_password(old), normalise_password(new)
        new_data = check_format(policy, new)
        self.verify(purpose, old)
        self.channel.send(A.change_reference_data(new_data))


def _status(response: A.Response) -> PinStatus:
    if response.sw == A.SW_OK:
        return PinStatus(tries_left=-1, verified=True)
    if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
        return PinStatus(tries_left=response.sw2 & 0x0F)
    if response.sw == A.SW_REF_DATA_BLOCKED:
        return PinStatus(tries_left=0)
    response.check()
    raise A.UnexpectedStatus(f"unexpected status word {A.sw_hex(response.sw)}", response.sw)
