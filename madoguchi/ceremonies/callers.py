"""The ceremony for other apps (docs/ceremony.md, "Calling a ceremony"): begin a ceremony
for a purpose, take its verified result once.

Other apps use this module, never ceremonies.models or ceremonies.views. Two ways in, one
way out:

- a **browser page** calls `begin(request, purpose, next_url=…)`: the ceremony is opened,
  its poll token kept in this browser's session, and the browser sent to the waiting page
  (the card paths: a card client by QR code or link, the demo's virtual card); once the
  card client completes, the waiting page takes the result (as `take` does) and the
  browser continues at `next_url`, where the caller finds it, once, with
  `take_in_session(request, next_url)`;
- an **API client** gets `open(…)` → `Opened` (its JSON: `opened_json`, schema `OpenOut`)
  and hands the poll token back; the caller takes the result with `take(id, poll_token)`.

Either way the result (`Result`) is taken once: the ceremony is consumed. A `sign`
ceremony's CMS is verified once, when the card client completes it (services.complete),
and the verification record is stored with it; `signed_record` gives a caller that holds a
CMS the record of the ceremony that verified exactly those bytes, instead of verifying
them again.
"""

import hashlib
import posixpath
from urllib.parse import unquote
from dataclasses import dataclass, field

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from ninja import Schema

from madoguchi.municipalities.tenancy import tenant
from madoguchi.pki.errors import PKIError
from madoguchi.pki.verify import claimed

from . import errors, services
from .errors import CeremonyError
from .models import Ceremony

SIGN, LOGIN, IDENTIFY, PRESENCE = "sign", "login", "identify", "presence"
SESSION_TOKENS = "ceremony_tokens"  # ceremony id → [poll token, where to continue], kept by the opening browser
SESSION_TAKEN = "ceremony_taken"  # where to continue → the id of a `sign` ceremony taken for it


def purpose_labels() -> dict[str, str]:
    """Each purpose and its label (ログイン, 本人確認, …)."""
    return dict(Ceremony.Purpose.choices)


def portal_audience(municipality) -> str:
    return f"{municipality.code}:portal"


@dataclass(frozen=True)
class Opened:
    """A ceremony just opened, as its opener holds it (the poll token is shown only here)."""

    id: str
    purpose: str
    challenge: bytes
    audience: str
    expires_at: object
    poll_token: str
    municipality_code: str


@dataclass(frozen=True)
class Result:
    """A completed ceremony's verified result: who (the person, when the card is linked to
    one), the verification record(s), and for `sign` the document digest and the CMS."""

    id: str
    purpose: str
    audience: str
    municipality_id: int
    person_id: int | None
    verification: dict
    document_sha256: str = ""
    signature: bytes | None = None
    card_path: str = ""  # which card path answered (cardpaths.CARD_PATHS)
    token_type: str = ""  # card / smartphone
    _row: object = field(default=None, repr=False, compare=False)

    @property
    def person(self):
        return self._row.person if self._row is not None else None


def _result(ceremony: Ceremony) -> Result:
    return Result(id=ceremony.public_id, purpose=ceremony.purpose, audience=ceremony.audience,
                  municipality_id=ceremony.municipality_id, person_id=ceremony.person_id,
                  verification=ceremony.verification, document_sha256=ceremony.document_sha256,
                  signature=bytes(ceremony.signature) if ceremony.signature is not None else None,
                  card_path=ceremony.card_path, token_type=ceremony.token_type, _row=ceremony)


def open(purpose: str, *, municipality, reason: str, requester: str | None = None, audience: str | None = None,
         document: bytes | None = None, document_sha256: str | None = None,
         require_card: bool = False) -> Opened:  # noqa: A001
    """Opens a ceremony of `municipality` (its portal's audience unless told). A `sign`
    ceremony signs `document`, or only its SHA-256 when the caller keeps it to itself.
    `require_card`: only the physical card answers (a smartphone certificate is `card_required`)."""
    with tenant(municipality):
        ceremony, poll_token = services.open_ceremony(
            purpose, audience=audience or portal_audience(municipality),
            requester=(requester or f"{municipality.name} オンライン窓口")[:200], reason=reason[:200],
            document=document, document_sha256=document_sha256, require_card=require_card)
    return Opened(id=ceremony.public_id, purpose=ceremony.purpose, challenge=bytes(ceremony.challenge),
                  audience=ceremony.audience, expires_at=ceremony.expires_at, poll_token=poll_token,
                  municipality_code=municipality.code)


def take(ceremony_id, poll_token) -> Result:
    """The result of a completed ceremony, taken once with its opener's poll token; raises
    CeremonyError (forbidden, already used, not found)."""
    return _result(services.take_result(ceremony_id, poll_token))


class OpenOut(Schema):
    """An opened ceremony, in the JSON APIs (the ceremony API and the applications API)."""

    id: str
    purpose: str
    challenge: str
    audience: str
    expires_at: str
    poll_token: str
    client_url: str
    state_url: str


def urls_for(request, municipality_code: str, ceremony_id: str) -> tuple[str, str]:
    """The card client's URL (fetch and complete) and the opener's state URL."""
    client = request.build_absolute_uri(reverse("ceremony_api:fetch", args=[municipality_code, ceremony_id]))
    state = request.build_absolute_uri(reverse("ceremony_api:state", args=[municipality_code, ceremony_id]))
    return client, state


def opened_json(request, opened: Opened) -> dict:
    client, state = urls_for(request, opened.municipality_code, opened.id)
    return {"id": opened.id, "purpose": opened.purpose, "challenge": services.b64(opened.challenge),
            "audience": opened.audience, "expires_at": opened.expires_at.isoformat(),
            "poll_token": opened.poll_token, "client_url": client, "state_url": state}


# -- the browser path ---------------------------------------------------------------------


def continuation(request, next_url: str | None) -> str | None:
    """`next_url` when it is a path of this municipality's site, else None: no scheme or
    host, no `//` or backslash, no control character, and still under /<code>/ once its
    dot segments are resolved (never another municipality's pages or another site)."""
    code = request.municipality.code
    if not next_url or len(next_url) > 1000 or not next_url.startswith(f"/{code}/"):
        return None
    if "\\" in next_url or any(ord(c) < 0x20 or ord(c) == 0x7F for c in next_url):
        return None
    path = unquote(next_url.split("?", 1)[0].split("#", 1)[0])
    resolved = posixpath.normpath(path)
    if "//" in path or "\\" in path or not (resolved == f"/{code}" or resolved.startswith(f"/{code}/")):
        return None
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return None
    return next_url


def safe_next(request, next_url: str | None) -> str:
    """A continuation inside this municipality's site (`continuation`), or the portal's top
    page (which shows a signed-in resident what needs them first)."""
    return continuation(request, next_url) or reverse("portal:top", args=[request.municipality.code])


def remember(request, ceremony_id: str, token: str, next_url: str, note: str = "") -> None:
    tokens = request.session.get(SESSION_TOKENS, {})
    tokens = dict(list(tokens.items())[-4:])  # a few recent ceremonies at most
    tokens[ceremony_id] = [token, next_url, note]
    request.session[SESSION_TOKENS] = tokens


def note_of(request, ceremony_id: str) -> str:
    """What the opener added for this browser to the waiting page's purpose (a fee: （手数料 600円）)."""
    entry = request.session.get(SESSION_TOKENS, {}).get(ceremony_id)
    return entry[2] if entry and len(entry) > 2 else ""


def session_entry(request, ceremony_id: str) -> tuple[str, str] | tuple[None, None]:
    """(poll token, where to continue) of a ceremony this browser opened."""
    entry = request.session.get(SESSION_TOKENS, {}).get(ceremony_id)
    return (entry[0], entry[1]) if entry else (None, None)


def begin(request, purpose: str, *, next_url: str | None = None, document: bytes | None = None,
          document_sha256: str | None = None, requester: str | None = None, reason: str | None = None,
          audience: str | None = None, note: str = "", require_card: bool = False):
    """Opens a ceremony for this browser and sends it to the waiting page; once the card
    client completes, the browser continues at `next_url` (for example an OIDC
    authorization that needs a sign-in, or a `sign` ceremony over an application, whose
    page then calls take_in_session). `note`: shown after the purpose on the waiting page
    of this browser only (the fee of the application being signed)."""
    opened = open(purpose, municipality=request.municipality, requester=requester, audience=audience,
                  reason=reason or str(Ceremony.Purpose(purpose).label), document=document,
                  document_sha256=document_sha256, require_card=require_card)
    return wait_for(request, opened, next_url=next_url, note=note)


def wait_for(request, opened: Opened, *, next_url: str | None = None, note: str = ""):
    """Sends this browser to the waiting page of a ceremony it just opened (`open`), to
    continue at `next_url` as `begin` does: for a caller that first links the ceremony's id
    to a record of its own (an OIDC signing transaction)."""
    remember(request, opened.id, opened.poll_token, safe_next(request, next_url), note)
    return redirect("ceremonies:wait", opened.municipality_code, opened.id)


def hand_over(request, ceremony_id: str, continue_at: str) -> None:
    """The waiting page took a `sign` ceremony's result for this browser (services.take_result,
    as `take` does): the page at `continue_at` finds it with take_in_session, once."""
    taken = dict(list(request.session.get(SESSION_TAKEN, {}).items())[-4:])
    taken[continue_at] = ceremony_id
    request.session[SESSION_TAKEN] = taken


def take_in_session(request, continue_at: str) -> Result | None:
    """The result of the `sign` ceremony this browser opened to continue at `continue_at`
    and completed (taken by the waiting page), handed over once (None when there is none)."""
    taken = request.session.get(SESSION_TAKEN, {})
    ceremony_id = taken.pop(continue_at, None)
    if ceremony_id is None:
        return None
    request.session[SESSION_TAKEN] = taken
    return taken_result(ceremony_id)


def taken_result(ceremony_id: str) -> Result | None:
    """The result of a ceremony of the municipality in scope that has been taken (None
    otherwise): for a caller that keeps the ceremony's id beside its own record (an OIDC
    sign transaction) and comes back for it."""
    ceremony = Ceremony.objects.filter(public_id=ceremony_id, status=Ceremony.Status.CONSUMED).first()
    return _result(ceremony) if ceremony is not None else None


# -- a CMS and the record of its verification ----------------------------------------------


class SignatureRefused(Exception):
    """`reason`: "not_verified" — no ceremony verified these bytes over this document;
    "other_ceremony" — the CMS names no completed `sign` ceremony of this audience over
    this document."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def signed_record(cms: bytes, document: bytes | None = None, *, municipality, taken: Result | None = None,
                  document_sha256: str | None = None) -> Result:
    """The result of the completed `sign` ceremony of `municipality`'s portal whose
    verification covered exactly this CMS over exactly this document: the CMS's binding
    names it, it was opened over this document's digest, and the bytes it verified and
    stored are these. Nothing is verified again (the ceremony did, when the card client
    completed it). `taken`: the result this request already took, used when it is the one
    the binding names (no read). A caller that holds only the document's SHA-256 (a
    detached CMS over a digest) passes `document_sha256` instead of `document`."""
    if (document is None) == (document_sha256 is None):
        raise TypeError("signed_record takes the document or its document_sha256")
    try:
        claims = claimed(cms)
    except PKIError:
        raise SignatureRefused("not_verified") from None
    if document is not None and claims.message_digest is not None and not claims.covers(document):
        raise SignatureRefused("not_verified")  # the CMS signs other bytes
    # A CMS without signed attributes (the national app's signature over the digest) claims
    # no digest: the ceremony's stored bytes and its document digest, checked below, bind it.
    if document is not None:
        document_sha256 = hashlib.sha256(document).hexdigest()
    binding, audience = claims.ceremony, portal_audience(municipality)
    if binding is None or binding.purpose != SIGN or binding.audience != audience:
        raise SignatureRefused("other_ceremony")
    if taken is not None and taken.id == binding.ceremony_id and taken.municipality_id == municipality.pk:
        result = taken
    else:
        with tenant(municipality):
            row = Ceremony.objects.filter(public_id=binding.ceremony_id, purpose=SIGN).first()
        result = _result(row) if row is not None else None
    if result is None or result.purpose != SIGN or result.audience != audience \
            or bytes(result._row.challenge) != binding.challenge \
            or result.document_sha256 != document_sha256 \
            or result._row.status not in (Ceremony.Status.COMPLETED, Ceremony.Status.CONSUMED):
        raise SignatureRefused("other_ceremony")
    if result.signature != bytes(cms):
        raise SignatureRefused("not_verified")  # not the CMS the ceremony verified
    return result


# -- card paths that verify elsewhere (madoguchi/natapp) ------------------------------------

VerifiedAnswer = services.VerifiedAnswer
VerifiedSignature = services.VerifiedSignature


@dataclass(frozen=True)
class Waiting:
    """An open ceremony as a card path sees it, before it reaches the card."""

    id: str
    purpose: str
    audience: str
    requester: str
    reason: str
    document_sha256: str
    require_card: bool
    municipality_code: str
    challenge: bytes


def waiting(request, ceremony_id: str) -> Waiting:
    """The open ceremony this browser opened (its poll token is in the session); raises
    CeremonyError (not found, forbidden, expired, already used, path not enabled)."""
    ceremony = services.find(ceremony_id)
    if session_entry(request, ceremony_id)[0] is None:
        raise errors.forbidden()
    services.describe(ceremony)  # expired / already used
    return Waiting(id=ceremony.public_id, purpose=ceremony.purpose, audience=ceremony.audience,
                   requester=ceremony.requester, reason=ceremony.reason, document_sha256=ceremony.document_sha256,
                   require_card=ceremony.require_card, municipality_code=ceremony.municipality.code,
                   challenge=bytes(ceremony.challenge))


def path_enabled(municipality, path: str) -> bool:
    return services.path_enabled(municipality, path)


def complete_verified(ceremony_id: str, answer: VerifiedAnswer) -> None:
    """Completes the ceremony with an answer its card path verified; raises CeremonyError."""
    services.complete_verified(ceremony_id, answer)


def fail(ceremony_id: str, error: CeremonyError, path: str) -> None:
    """A card path that could not verify its answer: the ceremony fails with `error` (nothing
    linked), and the waiting page shows it."""
    def refuse(ceremony):
        raise error

    try:
        services._complete(ceremony_id, path, refuse)
    except CeremonyError:
        pass
