"""Card services of a municipality: the catalog (enabled, listed, exported as JSON), the
terminals registered by staff and their signed API (lists down, events up), and tickets bound
to a resident's card, admitted once."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.ceremonies.pki import validator
from madoguchi.core.dates import JST, today_in_japan
from madoguchi.identity.services import CertificateRef, card_credentials_of, person_for_credential, resident_link_of
from madoguchi.municipalities.tenancy import current_municipality
from madoguchi.registry import UnknownName
from madoguchi.residents import reading as register
from madoguchi.terminal import signing
from madoguchi.terminal.index import SortedKeys, card_key
from madoguchi.terminal.state import REENTRY

from . import catalog  # noqa: F401  (registers the shipped services)
from .base import SERVICES, TERMINAL_HOOKS, CardService
from .catalog import SEAL, TICKETS
from .models import EnabledService, SealCard, Terminal, TerminalEvent, Ticket, TicketType


class CitizenCardError(ValueError):
    def __init__(self, message: str, field: str = ""):
        self.message, self.field = message, field
        super().__init__(message)


def service(key: str) -> CardService:
    try:
        return SERVICES.get(key)
    except UnknownName:
        raise CitizenCardError(_("そのサービスはありません。"), "key") from None


def all_services() -> list[CardService]:
    return [entry.implementation for entry in SERVICES.entries()]


def enabled_keys() -> set[str]:
    return set(EnabledService.objects.values_list("key", flat=True))


def enabled_services() -> list[CardService]:
    keys = enabled_keys()
    return [s for s in all_services() if s.key in keys]


def set_enabled(user, key: str, enabled: bool) -> bool:
    """Turns one service on or off for the municipality in scope; True when it changed."""
    service(key)
    with transaction.atomic():
        if enabled:
            _, created = EnabledService.objects.get_or_create(municipality=current_municipality(), key=key)
            if created:
                record("citizencard.service_enabled", actor=user, obj=("citizencard.service", key), data={"key": key})
            return created
        deleted, _n = EnabledService.objects.filter(key=key).delete()
        if deleted:
            record("citizencard.service_disabled", actor=user, obj=("citizencard.service", key), data={"key": key})
        return bool(deleted)


def export() -> dict:
    """The catalog as JSON: every service with whether the municipality offers it."""
    keys = enabled_keys()
    return {
        "municipality": current_municipality().code,
        "services": [dict(s.as_json(), enabled=s.key in keys) for s in all_services()],
    }


# -- terminals ---------------------------------------------------------------------------

KEY_HELP = _("公開鍵を読み取れませんでした。端末で「madoguchi terminal keygen --out 鍵ファイル名」を実行し、"
             "表示された「-----BEGIN PUBLIC KEY-----」の行から「-----END PUBLIC KEY-----」の行までを"
             "そのまま貼り付けてください。")


def parse_public_key(text: str) -> tuple[str, str]:
    """(normalised PEM, SHA-256 hex of the raw key) of a pasted Ed25519 public key."""
    pem = "\n".join(line.strip() for line in (text or "").strip().splitlines() if line.strip())
    if not pem or len(pem) > 2000:
        raise CitizenCardError(KEY_HELP, "public_key")
    try:
        key = signing.load_public(pem + "\n")
    except ValueError:
        raise CitizenCardError(KEY_HELP, "public_key") from None
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem + "\n", hashlib.sha256(raw).hexdigest()


# The services whose terminals the server serves (an allow-list and the settling of events).
TERMINAL_SERVICES = (TICKETS.key, SEAL.key)  # a seal terminal: the counter's check (`seal_check_for_terminal`)


def terminal_services() -> tuple[str, ...]:
    """Tickets, and every service an app plugged in with `base.TERMINAL_HOOKS`."""
    return TERMINAL_SERVICES + tuple(TERMINAL_HOOKS.names())


def kiosk_terminal(public_id):
    """An active terminal by its id (the kiosk page), or None."""
    return Terminal.objects.select_related("ticket_type").filter(public_id=public_id, active=True).first()


def terminals():
    return Terminal.objects.select_related("ticket_type").order_by("-active", "name")


def ticket_types():
    return TicketType.objects.order_by("-day", "event")


def register_terminal(user, *, name: str, place: str, service_key: str, public_key: str,
                      ticket_type_id: int | None = None) -> Terminal:
    service(service_key)
    if service_key not in terminal_services():
        raise CitizenCardError(_("このサービスは端末での判定に対応していません。"), "service")
    pem, key_sha256 = parse_public_key(public_key)
    ticket_type = None
    if ticket_type_id:
        ticket_type = TicketType.objects.filter(pk=ticket_type_id).first()
        if ticket_type is None or service_key != TICKETS.key:
            raise CitizenCardError(_("チケットの種類を一覧から選んでください（チケットの入場口だけに指定できます）。"),
                                   "ticket_type")
    if Terminal.objects.filter(key_sha256=key_sha256).exists():
        raise CitizenCardError(_("この公開鍵はすでに別の端末に登録されています。端末ごとに鍵を作ってください。"),
                               "public_key")
    with transaction.atomic():
        terminal = Terminal.objects.create(name=name, place=place, service=service_key, ticket_type=ticket_type,
                                           public_key=pem, key_sha256=key_sha256, registered_by=user)
        record("citizencard.terminal_registered", actor=user, obj=terminal,
               data={"terminal": str(terminal.public_id), "service": service_key, "key_sha256": key_sha256})
    return terminal


def revoke_terminal(user, pk, reason: str) -> Terminal:
    reason = (reason or "").strip()
    if not reason:
        raise CitizenCardError(_("停止する理由を入力してください（例: 端末の紛失）。"), "reason")
    with transaction.atomic():
        terminal = Terminal.objects.select_for_update().filter(pk=pk).first()
        if terminal is None:
            raise CitizenCardError(_("その端末はありません。"), "terminal")
        if not terminal.active:
            raise CitizenCardError(_("この端末はすでに停止しています。"), "terminal")
        terminal.active, terminal.revoked_by, terminal.revoked_at = False, user, timezone.now()
        terminal.revoked_reason = reason[:200]
        terminal.save(update_fields=["active", "revoked_by", "revoked_at", "revoked_reason"])
        record("citizencard.terminal_revoked", actor=user, obj=terminal,
               data={"terminal": str(terminal.public_id), "reason": terminal.revoked_reason})
    return terminal


# -- the signed terminal API ---------------------------------------------------------------

class TerminalRefused(Exception):
    """A terminal request refused: `status` (400, 401, 403) and a message for the operator."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


MAX_BODY = 1024 * 1024  # one batch of events; the agent sends at most 500 (~100 KB)
MAX_EVENTS = 1000
RESULTS = {"admitted", "revoked", "not_allowed", "already_used", "no_lists"}
_EVENT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_CARD = re.compile(r"[0-9a-f]{16}")


def authenticate(method: str, path: str, headers, body: bytes, now: float | None = None) -> Terminal:
    """The active terminal that signed this request (madoguchi.terminal.signing), or refused."""
    terminal_id = headers.get(signing.HEADER_ID, "")
    stamp = headers.get(signing.HEADER_TIME, "")
    signature = headers.get(signing.HEADER_SIG, "")
    if not (terminal_id and stamp and signature):
        raise TerminalRefused(401, "unsigned", _("端末の署名がありません。登録した端末の madoguchi terminal から接続してください。"))
    try:
        when = int(stamp)
        terminal_uuid = uuid.UUID(terminal_id)
    except ValueError:
        raise TerminalRefused(401, "bad_headers", _("端末の署名ヘッダーの形式が正しくありません。")) from None
    now = time.time() if now is None else now
    if abs(now - when) > signing.MAX_SKEW:
        raise TerminalRefused(401, "stale", _("要求の時刻がずれすぎています（古い要求の再送、または端末の時計のずれ）。"
                                               "端末の時計を合わせてください。"))
    terminal = Terminal.objects.filter(public_id=terminal_uuid).first()
    if terminal is None:
        raise TerminalRefused(401, "unknown_terminal", _("登録されていない端末です。職員が端末の公開鍵を登録してください。"))
    try:
        public = signing.load_public(terminal.public_key)
    except ValueError:
        raise TerminalRefused(401, "bad_key", _("登録された公開鍵を読み取れません。端末を登録し直してください。")) from None
    if not signing.verify(public, signature, method, path, terminal_id, stamp, body):
        raise TerminalRefused(401, "bad_signature", _("端末の署名を確認できませんでした。"))
    if not terminal.active:
        raise TerminalRefused(403, "revoked_terminal", _("この端末は停止されています。理由: %(reason)s")
                              % {"reason": terminal.revoked_reason})
    Terminal.objects.filter(pk=terminal.pk).update(last_seen_at=timezone.now())
    return terminal


_revoked_cache: dict = {}


def revoked_keys() -> SortedKeys:
    """The revocation index for terminals: the low 64 bits of every serial in the imported
    CRLs of the authentication CAs (the RevocationStore's indexes, not the CRLs re-parsed),
    cached per store and trust generation (bench/terminal_lists.py measures the build).
    Terminals read the authentication certificate only, so the 署名用 CAs' CRLs stay out: their
    serials are numbered apart from the 利用者証明用 ones, and a signature certificate revoked
    at every change of address must not refuse another person's card whose authentication
    serial happens to be the same number."""
    return _revoked()[0]


def _revoked() -> tuple[SortedKeys, str, bytes]:
    """(the index, its base64 for the lists answer, its SHA-256), built once per generation."""
    checker = validator()
    store, trust = checker.revocation, checker.trust
    key = (id(store), store.generation, id(trust), trust.generation)
    cached = _revoked_cache.get("keys")
    if cached is None or cached[0] != key:
        authentication = {anchor.key_id for anchor in trust.anchors("auth")}
        keys = SortedKeys.union(index.serial_keys() for index in store.indexes()
                                if index.issuer_key_id in authentication)
        raw = keys.to_bytes()
        cached = (key, (keys, base64.b64encode(raw).decode(), hashlib.sha256(raw).digest()))
        _revoked_cache["keys"] = cached
    return cached[1]


def _ticket_scope(terminal: Terminal, day=None):
    tickets = Ticket.objects.filter(ticket_type__active=True)
    if terminal.ticket_type_id:
        return tickets.filter(ticket_type_id=terminal.ticket_type_id)
    return tickets.filter(ticket_type__day=day or today_in_japan())


def allow_lists(terminal: Terminal) -> dict[str, SortedKeys]:
    """What a terminal admits offline, by list name. A ticket gate: the card keys of the valid
    tickets of its ticket type (or of every ticket type of today), single-entry ones under
    "tickets" (admitted once, then marked used) and multi-entry ones under "tickets+reentry"
    (admitted each time). A plugged-in service: its hook's keys. Others: none yet."""
    if terminal.service in TERMINAL_HOOKS:
        return {terminal.service: SortedKeys.build(TERMINAL_HOOKS.get(terminal.service).allow_list(terminal))}
    if terminal.service != TICKETS.key:
        return {terminal.service: SortedKeys.build([])}
    once, again = [], []
    for key, single in (_ticket_scope(terminal).filter(status=Ticket.Status.VALID)
                        .values_list("card_key", "ticket_type__single_entry")):
        (once if single else again).append(int(key, 16))
    return {TICKETS.key: SortedKeys.build(once), TICKETS.key + REENTRY: SortedKeys.build(again)}


def lists(terminal: Terminal, have_revoked: str = "") -> dict:
    """What a terminal syncs: the revocation index and its service's allow-lists, base64 of
    sorted little-endian uint64 arrays (madoguchi.terminal.index), a version that changes
    whenever any does, and the revocation index's own version. When the terminal already
    holds that index (`have_revoked`), it is left out: it is large and changes with each CRL
    import only, while the allow-lists change with every ticket."""
    _, revoked_b64, revoked_sha = _revoked()
    allow = {name: keys.to_bytes() for name, keys in sorted(allow_lists(terminal).items())}
    digest = hashlib.sha256(revoked_sha)
    for name, raw in allow.items():
        digest.update(b"|" + name.encode() + b"|" + hashlib.sha256(raw).digest())
    revoked_version = revoked_sha.hex()[:16]
    answer = {"version": digest.hexdigest()[:16], "revoked_version": revoked_version,
              "allow": {name: base64.b64encode(raw).decode() for name, raw in allow.items()}}
    if have_revoked != revoked_version:
        answer["revoked"] = revoked_b64
    return answer


def _parse_events(terminal: Terminal, body: bytes) -> list[dict]:
    bad = lambda message: TerminalRefused(400, "malformed", message)  # noqa: E731
    if len(body) > MAX_BODY:
        raise bad(_("送信データが大きすぎます（1回に1MBまで）。"))
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad(_("送信データがJSONではありません。")) from None
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise bad(_("送信データに events の一覧がありません。"))
    if len(events) > MAX_EVENTS:
        raise bad(_("1回に送れる記録は%(n)d件までです。") % {"n": MAX_EVENTS})
    parsed = []
    for n, event in enumerate(events, 1):
        if not isinstance(event, dict):
            raise bad(_("%(n)d件目の記録の形式が正しくありません。") % {"n": n})
        event_id, card, result = event.get("id"), event.get("card"), event.get("result")
        if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
            raise bad(_("%(n)d件目の記録の id が正しくありません。") % {"n": n})
        if event.get("service") != terminal.service:
            raise bad(_("%(n)d件目の記録のサービスがこの端末のサービスと違います。") % {"n": n})
        if not isinstance(card, str) or not _CARD.fullmatch(card):
            raise bad(_("%(n)d件目の記録のカードが正しくありません。") % {"n": n})
        if result not in RESULTS:
            raise bad(_("%(n)d件目の記録の判定結果が正しくありません。") % {"n": n})
        try:
            at = dt.datetime.fromisoformat(event.get("at"))
        except (TypeError, ValueError):
            at = None
        if at is None or at.tzinfo is None:
            raise bad(_("%(n)d件目の記録の日時が正しくありません。") % {"n": n})
        parsed.append({"id": event_id, "card": card, "result": result, "at": at})
    return parsed


def _settle(terminal: Terminal, event: dict) -> tuple[Ticket | None, str]:
    """The server's outcome of one terminal decision. For tickets: the first admission the
    server receives uses the ticket; a later admission of the same ticket from another gate
    is a conflict, kept for staff."""
    outcome = TerminalEvent.Outcome
    if terminal.service in TERMINAL_HOOKS:
        return None, TERMINAL_HOOKS.get(terminal.service).settle(terminal, event)
    if terminal.service != TICKETS.key:
        return None, outcome.ADMITTED if event["result"] == "admitted" else outcome.REFUSED
    day = event["at"].astimezone(JST).date()
    ticket = (_ticket_scope(terminal, day).select_for_update(of=("self",))  # not the ticket type row
              .filter(card_key=event["card"]).first())
    if event["result"] != "admitted":
        return ticket, outcome.REFUSED
    if ticket is None:
        return None, outcome.UNKNOWN
    if ticket.status == Ticket.Status.CANCELLED:
        return ticket, outcome.CANCELLED
    if ticket.status != Ticket.Status.VALID:
        return ticket, outcome.CONFLICT
    if ticket.ticket_type.single_entry:
        ticket.status = Ticket.Status.USED
    ticket.admitted_at, ticket.admitted_by = ticket.admitted_at or event["at"], ticket.admitted_by or terminal
    ticket.save(update_fields=["status", "admitted_at", "admitted_by"])
    return ticket, outcome.ADMITTED


def receive_events(terminal: Terminal, body: bytes) -> list[str]:
    """Stores a batch of terminal events; returns the ids acknowledged (every id of the batch:
    those already stored are acknowledged again without a duplicate). A malformed batch is
    refused whole (400), nothing stored."""
    events = _parse_events(terminal, body)
    for attempt in range(3):
        try:
            return _store_events(terminal, events)
        except IntegrityError:  # the same batch stored meanwhile by a concurrent resend: see it now
            if attempt == 2:
                raise
    return []  # not reached


def _store_events(terminal: Terminal, events: list[dict]) -> list[str]:
    conflicts = []
    with transaction.atomic():
        known = set(TerminalEvent.objects.filter(terminal=terminal, event_id__in=[e["id"] for e in events])
                    .values_list("event_id", flat=True))
        for event in events:
            if event["id"] in known:
                continue
            known.add(event["id"])
            ticket, outcome = _settle(terminal, event)
            stored = TerminalEvent.objects.create(terminal=terminal, event_id=event["id"], service=terminal.service,
                                                  card_key=event["card"], result=event["result"], at=event["at"],
                                                  ticket=ticket, outcome=outcome)
            if outcome in (TerminalEvent.Outcome.CONFLICT, TerminalEvent.Outcome.CANCELLED):
                conflicts.append(stored)
        for stored in conflicts:
            action = ("citizencard.admission_conflict" if stored.outcome == TerminalEvent.Outcome.CONFLICT
                      else "citizencard.admission_cancelled_ticket")
            record(action, actor=("terminal", str(terminal.public_id)), obj=stored,
                   data={"ticket": str(stored.ticket.public_id), "terminal": str(terminal.public_id),
                         "event": stored.event_id})
    return [e["id"] for e in events]


# -- tickets -------------------------------------------------------------------------------

def create_ticket_type(user, *, event: str, day, admission: str, single_entry: bool = True) -> TicketType:
    event, admission = (event or "").strip(), (admission or "").strip()
    if not event:
        raise CitizenCardError(_("イベントの名前を入力してください。"), "event")
    if not admission:
        raise CitizenCardError(_("入場の種類を入力してください（例: 一般、自由席）。"), "admission")
    if day is None or day < today_in_japan():
        raise CitizenCardError(_("開催日は今日以降の日を選んでください。"), "day")
    with transaction.atomic():
        ticket_type = TicketType.objects.create(event=event[:100], day=day, admission=admission[:50],
                                                single_entry=single_entry, created_by=user)
        record("citizencard.ticket_type_created", actor=user, obj=ticket_type,
               data={"ticket_type": str(ticket_type.public_id), "day": day.isoformat()})
    return ticket_type


def open_ticket_types():
    return TicketType.objects.filter(active=True, day__gte=today_in_japan()).order_by("day", "event")


def tickets_of(person):
    return Ticket.objects.filter(person=person).select_related("ticket_type").order_by("-ticket_type__day")


def current_card(person):
    """The resident's current authentication certificate: the one they last signed in with
    (identity marks it at every card sign-in), else the newest linked."""
    credentials = card_credentials_of(person).filter(purpose="auth")
    return credentials.order_by(F("last_used_at").desc(nulls_last=True), "-linked_at").first()


def _checked_card(person):
    """(credential, card key hex) of the resident's current card, refused with the reason
    when its certificate is not valid (revoked: with the CRL's reason)."""
    credential = current_card(person)
    if credential is None:
        raise CitizenCardError(_("カードの利用者証明用電子証明書が確認できません。マイナンバーカードでサインインし直してください。"),
                               "card")
    der = bytes(credential.certificate)
    result = validator().validate(der, "auth")
    if not result.ok:
        message = result.message_ja
        reason = revocation_reason(credential.issuer_key_id, credential.serial)
        if reason:
            message += _("（失効の理由: %(reason)s）") % {"reason": reason}
        raise CitizenCardError(message, "card")
    return credential, format(card_key(der), "016x")


checked_card = _checked_card  # for the apps that plug in (madoguchi.attendance)


def revocation_reason(issuer_key_id: str, serial_hex: str) -> str | None:
    """The CRL reason of a revoked certificate ("revoked" without a reason code), or None."""
    try:
        index = validator().revocation.get(bytes.fromhex(issuer_key_id))
        entry = index.lookup(int(serial_hex, 16)) if index is not None else None
    except ValueError:
        return None
    return None if entry is None else (entry.reason or "revoked")


def bind_ticket(person, ticket_type_public_id) -> Ticket:
    """The signed-in resident binds a ticket of this type to their card (once per type)."""
    if TICKETS.key not in enabled_keys():
        raise CitizenCardError(_("この市区町村ではチケットのサービスを提供していません。"), "ticket_type")
    try:
        wanted = uuid.UUID(str(ticket_type_public_id))
    except ValueError:
        wanted = None
    ticket_type = open_ticket_types().filter(public_id=wanted).first() if wanted else None
    if ticket_type is None:
        raise CitizenCardError(_("そのチケットは申し込めません。一覧から選んでください。"), "ticket_type")
    credential, key = _checked_card(person)
    with transaction.atomic():
        # A ticket cancelled earlier is bound again (one ticket of a type per person), to the current card.
        cancelled = (Ticket.objects.select_for_update()
                     .filter(ticket_type=ticket_type, person=person, status=Ticket.Status.CANCELLED).first())
        if cancelled is None and Ticket.objects.filter(ticket_type=ticket_type, person=person).exists():
            raise CitizenCardError(_("このチケットはすでにカードに結び付いています。"), "ticket_type")
        if Ticket.objects.filter(ticket_type=ticket_type, card_key=key).exclude(person=person).exists():
            raise CitizenCardError(_("このカードにはすでにこのチケットが結び付いています。"), "ticket_type")
        if cancelled is not None:
            ticket = cancelled
            ticket.status, ticket.card_key, ticket.certificate_sha256 = Ticket.Status.VALID, key, credential.sha256
            ticket.save(update_fields=["status", "card_key", "certificate_sha256"])
        else:
            ticket = Ticket.objects.create(ticket_type=ticket_type, person=person, card_key=key,
                                           certificate_sha256=credential.sha256)
        record("citizencard.ticket_bound", actor=("resident", str(person.public_id)), obj=ticket,
               data={"ticket": str(ticket.public_id), "ticket_type": str(ticket_type.public_id),
                     "again": cancelled is not None})
    return ticket


def cancel_ticket(ticket_filter: dict, *, actor) -> Ticket:
    """Cancels an unused ticket: the resident's own (`{"person": …, "public_id": …}`) or, by the
    issuer, any of the municipality's (`{"pk": …}`). It leaves the gates' allow-list at their
    next sync; a gate still offline that admits it meanwhile is a conflict for staff when its
    events arrive. The resident may bind the same type again while it is on sale."""
    with transaction.atomic():
        try:
            ticket = Ticket.objects.select_for_update().select_related("ticket_type").filter(**ticket_filter).first()
        except (ValueError, ValidationError):
            ticket = None
        if ticket is None:
            raise CitizenCardError(_("そのチケットはありません。"), "ticket")
        if ticket.status != Ticket.Status.VALID:
            raise CitizenCardError(_("使用済みまたは取消済みのチケットは取り消せません。"), "ticket")
        if ticket.ticket_type.day < today_in_japan():
            raise CitizenCardError(_("開催日を過ぎたチケットは取り消せません。"), "ticket")
        ticket.status = Ticket.Status.CANCELLED
        ticket.save(update_fields=["status"])
        record("citizencard.ticket_cancelled", actor=actor, obj=ticket,
               data={"ticket": str(ticket.public_id), "ticket_type": str(ticket.ticket_type.public_id)})
    return ticket


def tickets_for_staff(ticket_type: TicketType):
    return ticket_type.tickets.order_by("bound_at")


def events_for_staff(ticket_type: TicketType):
    return (TerminalEvent.objects.filter(ticket__ticket_type=ticket_type).select_related("terminal", "ticket")
            .order_by("-received_at"))


def rebind_ticket(user, ticket_pk) -> Ticket:
    """The issuer moves a ticket to its holder's current card (after a renewal): the only way
    a ticket changes card. Audited with both card keys."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().filter(pk=ticket_pk).first()
        if ticket is None:
            raise CitizenCardError(_("そのチケットはありません。"), "ticket")
        if ticket.status != Ticket.Status.VALID:
            raise CitizenCardError(_("使用済みまたは取消のチケットは付け替えられません。"), "ticket")
        credential, key = _checked_card(ticket.person)
        if key == ticket.card_key:
            raise CitizenCardError(_("このチケットはすでに現在のカードに結び付いています。"), "ticket")
        before = ticket.card_key
        ticket.card_key, ticket.certificate_sha256 = key, credential.sha256
        ticket.save(update_fields=["card_key", "certificate_sha256"])
        record("citizencard.ticket_rebound", actor=user, obj=ticket,
               data={"ticket": str(ticket.public_id), "from_card": before, "to_card": key})
    return ticket


# -- the card as the 印鑑登録証 (seal registration card) ----------------------------------------

def seal_registration_of(person):
    """The person's current seal registration in the municipality in scope (SealFacts), or None."""
    link = resident_link_of(person)
    return register.seal_of(link.record_id) if link is not None else None


def seal_card_of(person) -> SealCard | None:
    """The person's active choice of the card as their 印鑑登録証, or None."""
    return SealCard.objects.filter(person=person, revoked_at__isnull=True).first()


def choose_seal_card(person) -> SealCard:
    """The signed-in resident chooses to use their My Number Card as their 印鑑登録証. Bound
    to the Person: a renewed card (linked to the same Person) keeps the choice."""
    if SEAL.key not in enabled_keys():
        raise CitizenCardError(_("この市区町村ではマイナンバーカードを印鑑登録証として使うサービスを提供していません。"), "seal")
    seal = seal_registration_of(person)
    if seal is None:
        raise CitizenCardError(_("印鑑登録がありません。先に窓口で印鑑登録をしてください。"), "seal")
    with transaction.atomic():
        if seal_card_of(person) is not None:
            raise CitizenCardError(_("すでにマイナンバーカードを印鑑登録証として使う設定になっています。"), "seal")
        choice = SealCard.objects.create(person=person)
        record("citizencard.seal_card_chosen", actor=("resident", str(person.public_id)), obj=choice,
               data={"registration_number": seal.registration_number})
    return choice


def revoke_seal_card(person, *, user=None, reason: str = "") -> SealCard:
    """Ends the choice: by the resident (`user` None) or by staff (`user`, with a reason)."""
    reason = (reason or "").strip()
    if user is not None and not reason:
        raise CitizenCardError(_("取り消す理由を入力してください（例: カードの紛失の届出）。"), "reason")
    with transaction.atomic():
        choice = SealCard.objects.select_for_update().filter(person=person, revoked_at__isnull=True).first()
        if choice is None:
            raise CitizenCardError(_("マイナンバーカードを印鑑登録証として使う設定はありません。"), "seal")
        choice.revoked_at, choice.revoked_by, choice.revoked_reason = timezone.now(), user, reason[:200]
        choice.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
        actor = user if user is not None else ("resident", str(person.public_id))
        record("citizencard.seal_card_revoked", actor=actor, obj=choice,
               data={"by": "staff" if user is not None else "resident", "reason": choice.revoked_reason})
    return choice


def seal_cards():
    """The choices of the municipality (staff page): active first, newest first."""
    return SealCard.objects.select_related("person", "revoked_by").order_by(
        F("revoked_at").desc(nulls_first=True), "-chosen_at")


@dataclass(frozen=True)
class SealCheck:
    """The answer to the counter: may a 印鑑登録証明書 be issued on this card's presence?"""

    ok: bool
    code: str  # "ok" | "bad_certificate" | "certificate" | "unknown_card" | "no_choice" | "choice_revoked" | "no_seal"
    message: str
    registration_number: str = ""


def _decode_certificate(text: str) -> bytes | None:
    text = (text or "").strip()
    if not text or len(text) > 20000:
        return None
    if "-----BEGIN" in text:
        text = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:
        return None


def check_seal_card(actor, certificate: str) -> SealCheck:
    """At the counter, a 印鑑登録証明書 is requested: the card's authentication certificate,
    read without a PIN (the terminal's tap, or the `presence` ceremony), is checked (valid,
    not revoked) and its holder's choice and seal registration looked up. Every check is
    audited with its outcome; the certificate itself is not stored, only its SHA-256."""
    der = _decode_certificate(certificate)
    ref = None
    if der is not None:
        try:
            ref = CertificateRef.from_der(der)
        except ValueError:
            ref = None
    answer = _seal_answer(der, ref)
    record("citizencard.seal_card_checked", actor=actor, obj=("citizencard.seal_card", ref.sha256 if ref else "-"),
           data={"outcome": answer.code, "certificate_sha256": ref.sha256 if ref else "",
                 "registration_number": answer.registration_number})
    return answer


def _seal_answer(der: bytes | None, ref) -> SealCheck:
    if ref is None:
        return SealCheck(False, "bad_certificate", _("カードの利用者証明用電子証明書を読み取れませんでした。もう一度カードを読み取ってください。"))
    result = validator().validate(der, "auth")
    if not result.ok:
        message = result.message_ja
        reason = revocation_reason(ref.issuer_key_id, ref.serial)
        if reason:
            message += _("（失効の理由: %(reason)s）") % {"reason": reason}
        return SealCheck(False, "certificate", message)
    person = person_for_credential(ref, mark_used=False)  # presence is no sign-in
    if person is None:
        return SealCheck(False, "unknown_card", _("このカードは利用者として登録されていません。印鑑登録証（カード）の提示を求めてください。"))
    if seal_card_of(person) is None:
        if SealCard.objects.filter(person=person).exists():
            return SealCheck(False, "choice_revoked", _("マイナンバーカードを印鑑登録証として使う設定は取り消されています。"))
        return SealCheck(False, "no_choice", _("この方はマイナンバーカードを印鑑登録証として使う設定をしていません。"))
    seal = seal_registration_of(person)
    if seal is None:
        return SealCheck(False, "no_seal", _("この方の印鑑登録はありません（廃止または未登録）。"))
    return SealCheck(True, "ok", _("印鑑登録証として使えます。印鑑登録証明書を交付できます。"), seal.registration_number)


MAX_SEAL_BODY = 64 * 1024


def seal_check_for_terminal(terminal: Terminal, body: bytes) -> SealCheck:
    """The counter terminal's signed request `{"certificate": base64 DER}` (the card read
    without a PIN): only a terminal of the service `seal` may ask."""
    if terminal.service != SEAL.key:
        raise TerminalRefused(403, "wrong_service", _("この端末は印鑑登録証の確認の端末として登録されていません。"))
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    certificate = data.get("certificate") if isinstance(data, dict) else None
    if not isinstance(certificate, str):
        raise TerminalRefused(400, "malformed", _("送信データに certificate（Base64 の証明書）がありません。"))
    return check_seal_card(("terminal", str(terminal.public_id)), certificate)
