"""Attendance: an organiser (staff of the municipality) defines an event or a room; residents
register for it after signing in (their current card, checked); attendance terminals (the
citizencard terminals of the service `attendance`) get the members' card keys as their
allow-list and send each tap; the organiser sees and exports entries and exits per pairwise id.

Plugs into citizencard through `citizencard.base.TERMINAL_HOOKS` (allow-list, settlement):
citizencard never imports this app."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import secrets
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.citizencard import services as cards
from madoguchi.citizencard.base import TERMINAL_HOOKS, TerminalHooks
from madoguchi.citizencard.catalog import ATTENDANCE
from madoguchi.core.dates import JST, today_in_japan

from .models import Event, Gate, Member, Tap

SERVICE = ATTENDANCE.key
REPEAT_WINDOW = dt.timedelta(seconds=60)  # a second tap within a minute is a double tap, not an exit


class AttendanceError(ValueError):
    def __init__(self, message: str, field: str = ""):
        self.message, self.field = message, field
        super().__init__(message)


def plug_in() -> None:
    """Registers the attendance terminal hooks with citizencard (once, at app start)."""
    if SERVICE not in TERMINAL_HOOKS:
        TERMINAL_HOOKS.register(SERVICE, "attendance: members' card keys, taps paired into entries and exits")(
            TerminalHooks(allow_list=allow_list, settle=settle))


# -- the organiser ---------------------------------------------------------------------------

def events():
    return Event.objects.order_by("-starts_on", "title")


def create_event(user, *, title: str, place: str, starts_on, ends_on, names_allowed: bool = False,
                 legal_basis: str = "") -> Event:
    title, place, legal_basis = (title or "").strip(), (place or "").strip(), (legal_basis or "").strip()
    if not title:
        raise AttendanceError(_("催し・部屋の名前を入力してください。"), "title")
    if starts_on is None:
        raise AttendanceError(_("開始日を入力してください。"), "starts_on")
    if ends_on is None or ends_on < starts_on:
        raise AttendanceError(_("終了日は開始日と同じか、それより後の日にしてください。"), "ends_on")
    if names_allowed and not legal_basis:
        raise AttendanceError(_("参加者の氏名を主催者に示すときは、その根拠（法令・条例・本人の同意など）を書いてください。"),
                              "legal_basis")
    with transaction.atomic():
        event = Event.objects.create(title=title[:100], place=place[:200], starts_on=starts_on, ends_on=ends_on,
                                     names_allowed=names_allowed, legal_basis=legal_basis if names_allowed else "",
                                     organiser=user)
        record("attendance.event_created", actor=user, obj=event,
               data={"event": str(event.public_id), "names_allowed": names_allowed})
    return event


def attendance_terminals():
    """The municipality's active terminals of the service `attendance`."""
    return cards.terminals().filter(service=SERVICE, active=True)


def assign_terminal(user, event: Event, terminal_pk) -> Gate:
    """The terminal records this event from now on (one event per terminal)."""
    try:
        terminal = attendance_terminals().filter(pk=int(terminal_pk)).first()
    except (TypeError, ValueError):
        terminal = None
    if terminal is None:
        raise AttendanceError(_("出欠の記録に使う端末を一覧から選んでください（サービス「出欠の記録」で登録した端末）。"),
                              "terminal")
    with transaction.atomic():
        gate, _created = Gate.objects.update_or_create(municipality=event.municipality, terminal=terminal,
                                                       defaults={"event": event})
        record("attendance.terminal_assigned", actor=user, obj=event,
               data={"event": str(event.public_id), "terminal": str(terminal.public_id)})
    return gate


# -- residents -------------------------------------------------------------------------------

def open_events():
    return Event.objects.filter(open=True, ends_on__gte=today_in_japan()).order_by("starts_on", "title")


def memberships_of(person):
    return Member.objects.filter(person=person).select_related("event").order_by("-event__starts_on")


def _pairwise() -> str:
    return base64.b32encode(secrets.token_bytes(15)).decode()  # 24 characters, random per member


def register(person, event_public_id) -> Member:
    """The signed-in resident registers for an event with their current card (checked: a
    revoked certificate is refused with its reason). Registering again after a card renewal
    moves the membership to the new card."""
    if SERVICE not in cards.enabled_keys():
        raise AttendanceError(_("この市区町村では出欠の記録のサービスを提供していません。"), "event")
    try:
        wanted = uuid.UUID(str(event_public_id))
    except ValueError:
        wanted = None
    event = open_events().filter(public_id=wanted).first() if wanted else None
    if event is None:
        raise AttendanceError(_("その催しには登録できません。一覧から選んでください。"), "event")
    try:
        _credential, key = cards.checked_card(person)
    except cards.CitizenCardError as exc:
        raise AttendanceError(exc.message, "card") from None
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(event=event, person=person).first()
        if member is not None and member.card_key == key:
            raise AttendanceError(_("この催しにはすでに登録しています。"), "event")
        if Member.objects.filter(event=event, card_key=key).exclude(person=person).exists():
            raise AttendanceError(_("このカードは別の方の登録に使われています。"), "card")
        if member is not None:
            before, member.card_key = member.card_key, key
            member.save(update_fields=["card_key"])
            record("attendance.member_card_updated", actor=("resident", str(person.public_id)), obj=member,
                   data={"event": str(event.public_id), "from_card": before, "to_card": key})
            return member
        member = Member.objects.create(event=event, person=person, pairwise_id=_pairwise(), card_key=key)
        record("attendance.member_registered", actor=("resident", str(person.public_id)), obj=member,
               data={"event": str(event.public_id), "pairwise_id": member.pairwise_id})
    return member


# -- terminals (through citizencard's signed terminal API) -------------------------------------

def _event_of(terminal):
    gate = Gate.objects.select_related("event").filter(terminal_id=terminal.pk).first()
    return gate.event if gate is not None else None


def allow_list(terminal) -> list[int]:
    """The card keys of the members of the event the terminal records (none when unassigned)."""
    event = _event_of(terminal)
    if event is None:
        return []
    return [int(k, 16) for k in event.members.values_list("card_key", flat=True)]


def settle(terminal, event: dict) -> str:
    """One new tap of an attendance terminal (citizencard stores each terminal event once):
    a member's admitted tap is counted; a refusal is kept as refused; an admission of a card
    that is not a member (the terminal had old lists) is kept, not counted (`unknown`)."""
    attended = _event_of(terminal)
    member = attended.members.filter(card_key=event["card"]).first() if attended is not None else None
    counted = event["result"] == "admitted" and member is not None
    Tap.objects.create(event=attended, member=member, terminal=terminal, tap_id=event["id"], card_key=event["card"],
                       result=event["result"], counted=counted, at=event["at"])
    if event["result"] != "admitted":
        return "refused"  # values of citizencard's TerminalEvent.Outcome
    return "admitted" if counted else "unknown"


# -- what the organiser sees ------------------------------------------------------------------

@dataclass
class Presence:
    member: Member
    name: str  # "" unless the event's legal basis allows names
    visits: list[tuple[dt.datetime, dt.datetime | None]]

    @property
    def entry(self):
        return self.visits[0][0] if self.visits else None

    @property
    def exit(self):
        return self.visits[-1][1] if self.visits else None

    @property
    def minutes(self) -> int:
        return int(sum(((b - a).total_seconds() for a, b in self.visits if b is not None), 0.0) // 60)


def attendance(event: Event) -> list[Presence]:
    """Per member: the counted taps in the order of the terminal clocks, paired into visits
    (entry, exit); a tap within a minute of the previous one is a double tap and ignored;
    a last entry without an exit stays open. Names only when the event allows them."""
    taps: dict[int, list[dt.datetime]] = {}
    for member_id, at in Tap.objects.filter(event=event, counted=True).order_by("at").values_list("member_id", "at"):
        times = taps.setdefault(member_id, [])
        if times and at - times[-1] < REPEAT_WINDOW:
            continue
        times.append(at)
    out = []
    for member in event.members.select_related("person").order_by("registered_at"):
        times = taps.get(member.pk, [])
        visits = [(times[i], times[i + 1] if i + 1 < len(times) else None) for i in range(0, len(times), 2)]
        out.append(Presence(member, member.person.verified_name if event.names_allowed else "", visits))
    return out


def refused_taps(event: Event):
    return Tap.objects.filter(event=event, counted=False).select_related("terminal").order_by("-at")


def _local(at) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def export_csv(user, event: Event) -> str:
    """The event's attendance as CSV (UTF-8): pairwise id, (name when allowed), first entry,
    last exit (Asia/Tokyo), minutes present (closed visits), visits. Audited."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = ["pairwise_id"] + (["name"] if event.names_allowed else []) + ["entry", "exit", "minutes", "visits"]
    writer.writerow(head)
    rows = attendance(event)
    for p in rows:
        writer.writerow([p.member.pairwise_id] + ([p.name] if event.names_allowed else [])
                        + [_local(p.entry), _local(p.exit), p.minutes, len(p.visits)])
    record("attendance.exported", actor=user, obj=event,
           data={"event": str(event.public_id), "rows": len(rows), "names": event.names_allowed})
    return out.getvalue()

