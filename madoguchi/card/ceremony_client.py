"""The card client of the ceremony protocol (docs/ceremony.md): fetch, show who asks and
why, read the card, sign, complete. Pure: the standard library's HTTP client, no Django.

A phone app does the same; this one drives a card through the `JpkiAP` interface, so a
virtual card and a real reader behave identically.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from madoguchi.protocol.ceremony import to_be_signed

from .jpki import JpkiAP

MAX_RESPONSE_BYTES = 12 * 1024 * 1024
TIMEOUT = 30


class CeremonyRefused(Exception):
    """The server refused (code and message from its JSON), or the client refused to go on."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass
class Secrets:
    pin: Callable[[], str]  # 4-digit PIN of the authentication key
    password: Callable[[], str]  # signature password


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _http(method: str, url: str, body: dict | None = None) -> dict:
    if not url.startswith(("https://", "http://")):
        raise CeremonyRefused("bad_url", f"not an http(s) URL: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read(65536))
            raise CeremonyRefused(error.get("code", "error"), error.get("message", str(exc)), exc.code) from None
        except ValueError:
            raise CeremonyRefused("http_error", f"HTTP {exc.code}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CeremonyRefused("unreachable", str(exc)) from None
    except ValueError:
        raise CeremonyRefused("bad_response", "the server did not answer JSON") from None


def fetch(url: str) -> dict:
    description = _http("GET", url)
    for key in ("id", "purpose", "audience", "challenge", "requester", "reason"):
        if not isinstance(description.get(key), str):
            raise CeremonyRefused("bad_response", f"the ceremony has no {key}")
    return description


def answer(description: dict, card: JpkiAP, secrets: Secrets) -> dict:
    """Reads the card and builds the completion body for one ceremony."""
    purpose = description["purpose"]
    challenge = unb64(description["challenge"])
    body = {"audience": description["audience"]}
    if purpose == "presence":
        body["auth_certificate"] = b64(card.certificate("auth"))
        return body
    if purpose == "sign":
        from madoguchi.pki import cms
        from madoguchi.pki.verify import ceremony_attribute

        document = description["document"]
        if "content" in document:
            content_sha256 = hashlib.sha256(unb64(document["content"])).digest()
            if content_sha256.hex() != document.get("sha256"):
                raise CeremonyRefused("bad_response", "the document does not match its announced SHA-256")
        else:  # the requester keeps the document; the resident is shown its digest and title
            content_sha256 = bytes.fromhex(document["sha256"])
        password = secrets.password()
        sign_cert = card.certificate_after_verify("sign", password)
        signature = cms.sign_detached_digest(
            content_sha256, sign_cert, lambda digest_info: card.sign_digest_info("sign", digest_info),
            extra_attributes=[ceremony_attribute(description["id"], challenge, description["audience"], "sign")])
        body["cms"] = b64(signature)
        return body
    if purpose not in ("login", "identify"):
        raise CeremonyRefused("unknown_purpose", f"this client does not know the purpose {purpose!r}")
    if purpose == "login":
        tbs = to_be_signed(description["id"], challenge, description["audience"], purpose)
        if "to_be_signed" in description and unb64(description["to_be_signed"]) != tbs:
            # The server's convenience copy disagrees with what the protocol says: sign nothing.
            raise CeremonyRefused("bad_response", "the server's bytes to sign do not follow the protocol")
        body["auth_certificate"] = b64(card.certificate("auth"))
        body["auth_signature"] = b64(card.sign_data("auth", tbs, secrets.pin()))
        return body
    # identify, in one card session: read both certificates first (the signature certificate
    # needs the password), then each key signs bytes naming both, so the server can tell
    # that the two signatures were made together, by one card.
    pin = secrets.pin()
    password = secrets.password()
    sign_certificate = card.certificate_after_verify("sign", password)
    auth_certificate = card.certificate("auth")
    tbs = to_be_signed(description["id"], challenge, description["audience"], purpose,
                       auth_certificate=auth_certificate, sign_certificate=sign_certificate)
    body["auth_certificate"] = b64(auth_certificate)
    body["auth_signature"] = b64(card.sign_data("auth", tbs, pin))
    body["sign_certificate"] = b64(sign_certificate)
    body["sign_signature"] = b64(card.sign_data("sign", tbs, password))  # verified again: a SELECT may reset it
    return body


def run(url: str, card: JpkiAP, secrets: Secrets, confirm: Callable[[dict], bool]) -> dict:
    """fetch → confirm (who asks and why) → read and sign → complete. Returns the server's answer."""
    description = fetch(url)
    if not confirm(description):
        raise CeremonyRefused("declined", "the resident declined")
    body = answer(description, card, secrets)
    return _http("POST", url.rstrip("/") + "/complete", body)
