"""Library cards: libraries configured by staff, patron numbers linked once per library under
a pairwise pseudonym of the Person (so a renewed card finds the same link), and the lookup a
library system makes with the card read without a PIN (its API and SIP2)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata

from cryptography import x509
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.ceremonies.pki import validator
from madoguchi.citizencard.base import TERMINAL_HOOKS, TerminalHooks
from madoguchi.citizencard.catalog import LIBRARY
from madoguchi.citizencard.services import enabled_keys, set_enabled
from madoguchi.identity.services import CertificateRef, certificate_for_card_key, person_for_credential
from madoguchi.municipalities.tenancy import current_municipality

from .models import Library, PatronLink

MAX_CERTIFICATE = 8 * 1024  # a JPKI authentication certificate is about 1.5 KB
_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
_PATRON = re.compile(r"[0-9A-Z]{4,20}")
_CARD_KEY = re.compile(r"[0-9a-f]{16}")


class LibraryError(ValueError):
    def __init__(self, message: str, field: str = ""):
        self.message, self.field = message, field
        super().__init__(message)


class Refused(Exception):
    """A library system's lookup refused: `status`, a code and a message (Japanese), and the
    CRL reason of a revoked certificate."""

    def __init__(self, status: int, code: str, message: str, reason: str = ""):
        self.status, self.code, self.message, self.reason = status, code, message, reason
        super().__init__(message)

    def as_json(self) -> dict:
        out = {"error": self.code, "message": self.message}
        if self.reason:
            out["reason"] = self.reason
        return out


def plug_in() -> None:
    """Registers the library's terminal with citizencard (once, at app start): the agent of a
    self-checkout kiosk (`madoguchi terminal run --service library --library CODE`) is a
    terminal of its own service, registered and revoked by staff like a gate, so that a kiosk
    needs no gate's registration. It syncs the revocation index only: its allow-list is empty
    (the patron number is asked of the server at each read, never held by the kiosk)."""
    if LIBRARY.key not in TERMINAL_HOOKS:
        TERMINAL_HOOKS.register(LIBRARY.key, "library: a self-checkout kiosk's agent, no offline admissions")(
            TerminalHooks(allow_list=_no_admissions, settle=_settle_kiosk_event))


def _no_admissions(terminal) -> list[int]:
    return []


def _settle_kiosk_event(terminal, event: dict) -> str:
    """A self-checkout kiosk admits nobody offline, so an event it sends is kept (citizencard
    stores each once) and settled as what it is: a refusal, or an admission matching no
    ticket (`unknown`) — values of citizencard's TerminalEvent.Outcome."""
    return "refused" if event["result"] != "admitted" else "unknown"


def offered() -> bool:
    """Whether the municipality in scope offers the library card (the citizen card catalog)."""
    return LIBRARY.key in enabled_keys()


# -- libraries (staff) ----------------------------------------------------------------------

def libraries():
    return Library.objects.filter(active=True).order_by("name")


def self_checkout_library(code: str) -> Library | None:
    """The active library `code` whose self-checkout page may open, or None (unknown, closed,
    or the municipality does not offer the library card)."""
    if not offered():
        return None
    return Library.objects.filter(code=code, active=True).first()


def all_libraries():
    return Library.objects.annotate(link_count=Count("links")).order_by("-active", "name")


def _hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def create_library(user, *, code: str, name: str, credential: str | None = None) -> tuple[Library, str]:
    """A library and the credential of its library system, returned once (only its SHA-256 is
    kept). `credential`: only the demo gives one (derived, so that it can be printed again)."""
    code, name = (code or "").strip().lower(), (name or "").strip()
    if not _CODE.fullmatch(code):
        raise LibraryError(_("識別子は半角の英小文字・数字・ハイフンで2〜40文字にしてください（例: chuo）。"), "code")
    if not name:
        raise LibraryError(_("図書館の名前を入力してください。"), "name")
    if Library.objects.filter(code=code).exists():
        raise LibraryError(_("この識別子の図書館はすでにあります。"), "code")
    credential = credential or "lib_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        library = Library.objects.create(code=code, name=name[:100], credential_sha256=_hash(credential),
                                         credential_hint=credential[:8], created_by=user)
        record("library.library_created", actor=user, obj=library, data={"library": code})
    return library, credential


DEMO_LIBRARY = "chuo"


def ensure_demo(user) -> tuple[str, str]:
    """The demo (municipality in scope): the library card service on and 中央図書館（デモ）
    with a credential derived from SECRET_KEY, the same at every `madoguchi demo` (which
    prints it). Returns (identifier, credential)."""
    code = current_municipality().code
    credential = "lib_demo_" + hmac.new(settings.SECRET_KEY.encode(), f"madoguchi-demo-library:{code}".encode(),
                                        hashlib.sha256).hexdigest()[:32]
    set_enabled(user, LIBRARY.key, True)
    library = Library.objects.filter(code=DEMO_LIBRARY).first()
    if library is None:
        create_library(user, code=DEMO_LIBRARY, name="中央図書館（デモ）", credential=credential)
    elif library.credential_sha256 != _hash(credential):  # SECRET_KEY changed since the last load
        Library.objects.filter(pk=library.pk).update(credential_sha256=_hash(credential),
                                                     credential_hint=credential[:8])
    return DEMO_LIBRARY, credential


def rotate_credential(user, pk) -> tuple[Library, str]:
    """A new credential for a library's system; the old one stops working at once."""
    credential = "lib_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        library = Library.objects.select_for_update().filter(pk=pk).first()
        if library is None:
            raise LibraryError(_("その図書館はありません。"), "library")
        library.credential_sha256, library.credential_hint = _hash(credential), credential[:8]
        library.save(update_fields=["credential_sha256", "credential_hint"])
        record("library.credential_rotated", actor=user, obj=library, data={"library": library.code})
    return library, credential


def library_for_staff(pk):
    return Library.objects.filter(pk=pk).first()


def links_for_staff(library: Library):
    return library.links.order_by("-linked_at")


# -- the pairwise link ----------------------------------------------------------------------

def pseudonym(library: Library, person) -> str:
    """HMAC-SHA256(server secret, "library" ‖ municipality ‖ library ‖ person): stable for one
    library whatever card the person holds, unlinkable across libraries (as the OIDC
    provider's pairwise subjects, with their secret and another domain)."""
    message = f"library\x00{library.municipality_id}\x00{library.public_id}\x00{person.public_id}".encode()
    digest = hmac.new(settings.OIDC_PAIRWISE_SECRET.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalise_patron_number(text: str) -> str:
    """The 利用者番号 as the library prints it: full-width digits and letters folded, spaces and
    hyphens dropped, letters upper case; 4 to 20 letters or digits."""
    value = unicodedata.normalize("NFKC", text or "").upper()
    value = re.sub(r"[\s\-ー−‐]", "", value)
    if not _PATRON.fullmatch(value):
        raise LibraryError(_("利用者番号は、図書館の利用者カードに書かれた番号（半角の英数字4〜20文字）を入力してください。"),
                           "patron_number")
    return value


def _library(library_or_code) -> Library:
    if isinstance(library_or_code, Library):
        return library_or_code
    found = libraries().filter(code=str(library_or_code or "")).first()
    if found is None:
        raise LibraryError(_("図書館を一覧から選んでください。"), "library")
    return found


def links_of(person) -> dict[int, PatronLink]:
    """The person's links, by library id (computed pseudonyms: the table names no person)."""
    wanted = {pseudonym(lib, person): lib.pk for lib in libraries()}
    return {link.library_id: link for link in PatronLink.objects.filter(pseudonym__in=wanted)
            if wanted.get(link.pseudonym) == link.library_id}


def link(person, library_or_code, patron_number: str, *, staff_user=None) -> PatronLink:
    """Links the person's 利用者番号 at a library (once; unlink first to change it)."""
    if not offered():
        raise LibraryError(_("この市区町村では図書館カードのサービスを提供していません。"), "library")
    library = _library(library_or_code)
    number = normalise_patron_number(patron_number)
    alias = pseudonym(library, person)
    if PatronLink.objects.filter(library=library, pseudonym=alias).exists():
        raise LibraryError(_("この図書館の利用者番号はすでに登録されています。変えるときは、いったん登録を解除してください。"),
                           "patron_number")
    if PatronLink.objects.filter(library=library, patron_number=number).exists():
        raise LibraryError(_("この利用者番号はすでに別のカードに登録されています。図書館にお問い合わせください。"),
                           "patron_number")
    via = PatronLink.Via.COUNTER if staff_user is not None else PatronLink.Via.RESIDENT
    actor = staff_user if staff_user is not None else ("resident", str(person.public_id))
    try:
        with transaction.atomic():
            created = PatronLink.objects.create(library=library, pseudonym=alias, patron_number=number, via=via,
                                                linked_by=staff_user)
            record("library.patron_linked", actor=actor, obj=created, data={"library": library.code, "via": via})
    except IntegrityError:  # the same link made meanwhile
        raise LibraryError(_("この利用者番号はすでに登録されています。"), "patron_number") from None
    return created


def unlink(person, library_or_code) -> bool:
    library = _library(library_or_code)
    with transaction.atomic():
        found = PatronLink.objects.select_for_update().filter(library=library,
                                                              pseudonym=pseudonym(library, person)).first()
        if found is None:
            return False
        record("library.patron_unlinked", actor=("resident", str(person.public_id)), obj=found,
               data={"library": library.code})
        found.delete()
    return True


def read_certificate(text: str) -> bytes:
    """The DER of a certificate pasted as PEM or base64 (what a counter reader gives)."""
    text = (text or "").strip()
    if not text or len(text) > MAX_CERTIFICATE * 2:
        raise LibraryError(_("カードの利用者証明用電子証明書（PEM または base64）を読み取って貼り付けてください。"),
                           "certificate")
    body = re.sub(r"-----(BEGIN|END) CERTIFICATE-----|\s", "", text)
    try:
        der = base64.b64decode(body, validate=True)
        x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise LibraryError(_("電子証明書を読み取れませんでした。カードをもう一度読み取って貼り付けてください。"),
                           "certificate") from None
    return der


def link_at_counter(staff_user, library_pk, certificate: str, patron_number: str) -> PatronLink:
    """Staff at the library counter link the 利用者番号 of a resident present with their card:
    the card's authentication certificate (read without a PIN; staff look at the card's face)
    must be valid and linked to a Person (a resident who signed in with it once)."""
    library = Library.objects.filter(pk=library_pk, active=True).first()
    if library is None:
        raise LibraryError(_("図書館を一覧から選んでください。"), "library")
    der = read_certificate(certificate)
    try:
        person = _person(der)
    except Refused as exc:
        raise LibraryError(exc.message + (_("（失効の理由: %(reason)s）") % {"reason": exc.reason} if exc.reason else ""),
                           "certificate") from None
    return link(person, library, patron_number, staff_user=staff_user)


# -- the library system's lookup -------------------------------------------------------------

def authenticate(code: str, credential: str) -> Library:
    """The active library `code` of the municipality in scope whose credential this is."""
    library = Library.objects.filter(code=code, active=True).first()
    if not credential or library is None or not hmac.compare_digest(library.credential_sha256, _hash(credential)):
        raise Refused(401, "unauthorized", _("図書館システムの認証情報が正しくありません。"))
    if not offered():
        raise Refused(403, "not_offered", _("この市区町村では図書館カードのサービスを提供していません。"))
    return library


def _person(der: bytes):
    """The Person of a valid authentication certificate, or Refused with the reason."""
    result = validator().validate(der, "auth")
    if not result.ok:
        verdict = result.verdict.value
        if verdict == "malformed":
            raise Refused(400, "malformed", result.message_ja)
        if verdict == "revocation_unknown":
            raise Refused(503, verdict, result.message_ja)
        entry = result.revocation.entry if result.revocation is not None else None
        reason = (entry.reason or "revoked") if verdict == "revoked" and entry is not None else ""
        message = result.message_ja + (_("（失効の理由: %(reason)s）") % {"reason": reason} if reason else "")
        raise Refused(403, verdict, message, reason)
    person = person_for_credential(CertificateRef.from_der(der))
    if person is None:
        raise Refused(404, "not_linked", _("このカードはまだ登録されていません。マイナンバーカードでサインインし、"
                                           "図書館カードの登録をしてください。"))
    return person


def patron(library: Library, *, certificate: bytes | None = None, card: str | None = None) -> dict:
    """The patron number of the card's holder at this library: from the authentication
    certificate (preferred), or its card key (16 hex digits, as terminals compute it) of a
    certificate the server knows."""
    if certificate is None:
        if not isinstance(card, str) or not _CARD_KEY.fullmatch(card):
            raise Refused(400, "malformed", _("card はカードの鍵（16桁の16進数）で指定してください。"))
        certificate = certificate_for_card_key(card)
        if certificate is None:
            raise Refused(404, "not_linked", _("このカードはまだ登録されていません。"))
    person = _person(certificate)
    found = PatronLink.objects.filter(library=library, pseudonym=pseudonym(library, person)).first()
    if found is None:
        raise Refused(404, "not_linked", _("このカードには、この図書館の利用者番号が登録されていません。"
                                           "図書館の窓口か、市のサイトの「図書館カード」で登録してください。"))
    return {"library": library.code, "patron_number": found.patron_number, "patron": found.pseudonym}


def parse_request(body: bytes) -> dict:
    """{certificate: DER} or {card: key} from the API's JSON body; Refused(400) otherwise."""
    if len(body) > MAX_CERTIFICATE * 2:
        raise Refused(400, "too_large", _("送信データが大きすぎます（16KBまで）。"))
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed", _("送信データがJSONではありません。")) from None
    if not isinstance(data, dict) or ("certificate" in data) == ("card" in data):
        raise Refused(400, "malformed", _("certificate（電子証明書のbase64）か card のどちらか一つを送ってください。"))
    if "card" in data:
        return {"card": data["card"]}
    try:
        der = base64.b64decode(data["certificate"], validate=True) if isinstance(data["certificate"], str) else b""
    except binascii.Error:
        der = b""
    if not der:
        raise Refused(400, "malformed", _("certificate には電子証明書（DER）のbase64を入れてください。"))
    return {"certificate": der}
