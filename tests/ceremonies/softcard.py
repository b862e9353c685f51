"""A card in software for tests and the benchmark: the dev CA's keys signing in-process,
exactly the bytes a real card would (docs/ceremony.md). No APDU emulation."""

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from madoguchi.pki import cms
from madoguchi.pki.devca import IssuedCard
from madoguchi.pki.verify import ceremony_attribute
from madoguchi.protocol.ceremony import to_be_signed


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def identify_answer(description: dict, auth_card: IssuedCard, sign_card: IssuedCard) -> dict:
    """An `identify` answer, each key signing bytes that name both certificates. With two
    different cards it is the two-card mixture the server must refuse (issue 13)."""
    tbs = to_be_signed(description["id"], unb64(description["challenge"]), description["audience"], "identify",
                       auth_certificate=der(auth_card.auth_cert), sign_certificate=der(sign_card.sign_cert))

    def sign(key) -> bytes:
        return key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())

    return {"auth_certificate": b64(der(auth_card.auth_cert)), "auth_signature": b64(sign(auth_card.auth_key)),
            "sign_certificate": b64(der(sign_card.sign_cert)), "sign_signature": b64(sign(sign_card.sign_key))}


@dataclass
class SoftCard:
    issued: IssuedCard

    def _sign(self, key, data: bytes) -> bytes:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def answer(self, description: dict, audience: str | None = None) -> dict:
        """The completion body for a fetched ceremony description."""
        purpose = description["purpose"]
        body = {"audience": audience if audience is not None else description["audience"]}
        if purpose == "presence":
            body["auth_certificate"] = b64(der(self.issued.auth_cert))
        elif purpose == "sign":
            document = description["document"]
            digest = (__import__("hashlib").sha256(unb64(document["content"])).digest() if "content" in document
                      else bytes.fromhex(document["sha256"]))
            body["cms"] = b64(self.cms_digest(digest, description["id"], unb64(description["challenge"]),
                                              description["audience"]))
        elif purpose == "login":
            tbs = unb64(description["to_be_signed"])
            body["auth_certificate"] = b64(der(self.issued.auth_cert))
            body["auth_signature"] = b64(self._sign(self.issued.auth_key, tbs))
        else:
            body.update(identify_answer(description, self.issued, self.issued))
        return body

    def cms_digest(self, digest: bytes, ceremony_id: str, challenge: bytes, audience: str) -> bytes:
        def signer(digest_info: bytes) -> bytes:
            return self.issued.sign_key.sign(digest_info[-32:], padding.PKCS1v15(), Prehashed(hashes.SHA256()))

        return cms.sign_detached_digest(digest, der(self.issued.sign_cert), signer,
                                 extra_attributes=[ceremony_attribute(ceremony_id, challenge, audience, "sign")],
                                 signing_time=dt.datetime.now(dt.timezone.utc))

    def cms(self, document: bytes, ceremony_id: str, challenge: bytes, audience: str) -> bytes:
        import hashlib

        return self.cms_digest(hashlib.sha256(document).digest(), ceremony_id, challenge, audience)
