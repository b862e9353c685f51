"""Receiving a 転出 package at the destination: verified against the destination's trust
roots, addressed to a municipality of this deployment, received once (a replay is refused)."""

import base64
import datetime as dt
import json
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record, record_many
from madoguchi.documents import services as documents
from madoguchi.identity import services as identity
from madoguchi.municipalities import codes
from madoguchi.municipalities.models import Municipality
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import services as notices
from madoguchi.residents import reading as residents
from madoguchi.residents import services as residents_services

from . import package
from .models import FollowUp, IncomingMove, OutgoingMove

REQUIRED = ("origin", "destination", "application", "move_out_on", "persons")
NOTICE = "tennyu"  # the kind of a 転入通知 (a 転出 package's kind is "tenshutsu")
NOTICE_REQUIRED = ("origin", "destination", "application", "moved_in_on")
ALREADY = "this package has already been received"


def _unverified_payload(envelope) -> dict:
    """The payload as the envelope carries it, before any check (raises on anything odd)."""
    return json.loads(base64.b64decode(envelope["payload"], validate=True))


def _addressee(payload: dict) -> str:
    """Who receives a package: the destination of a 転出, the origin of a 転入通知."""
    return str(payload["origin"] if payload.get("kind") == NOTICE else payload["destination"])


def _addressee_of(envelope) -> str:
    """The addressee a package names, read before verification only to pick the roots (the
    verified payload must name the same one)."""
    try:
        return _addressee(_unverified_payload(envelope))
    except Exception:
        package.verify_envelope(envelope, [])  # raises the precise one-line reason
        raise package.PackageError("the package names no destination") from None


def _application_of(envelope) -> str:
    """The 受付番号 a package says it carries, unverified: only to name a refused one."""
    try:
        return str(_unverified_payload(envelope)["application"])[:40]
    except Exception:
        return ""


def _extra_roots() -> list:
    path = settings.MOVING_TRUST_ROOTS
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            return x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError):
        raise package.PackageError(f"the trust roots file {path} (MADOGUCHI_MOVING_TRUST_ROOTS) cannot be read") from None


def _names_origin(signer, code: str, name: str) -> bool:
    """Whether the signer's certificate is the origin's: its 団体コード in an OU (the
    development LGPKI and madoguchi's installed certificates), or its name in the CN."""
    from cryptography.x509.oid import NameOID

    units = [a.value for a in signer.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    common = " ".join(a.value for a in signer.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return code in units or bool(name) and name in common


class _Receiver:
    """Verifies packages for the destinations of this deployment, each destination looked up
    and its trust roots loaded once per import (a batch names few destinations)."""

    def __init__(self):
        self.extra = _extra_roots()
        self.destinations: dict[str, tuple[Municipality | None, list]] = {}

    def check(self, envelope) -> tuple[Municipality, dict, x509.Certificate]:
        """(the addressee, the payload, the signer) of a package it may receive; PackageError
        with the reason otherwise."""
        code = _addressee_of(envelope)
        if code not in self.destinations:
            found = Municipality.objects.filter(code=code).first()
            self.destinations[code] = (found, documents.trust_roots(found) + self.extra if found else [])
        addressee, roots = self.destinations[code]
        if addressee is None:
            raise package.PackageError(f"the destination {code} is not a municipality of this deployment")
        payload, signer = package.verify_envelope(envelope, roots)
        notice = payload.get("kind") == NOTICE
        missing = [k for k in (NOTICE_REQUIRED if notice else REQUIRED) if k not in payload]
        if missing:
            raise package.PackageError(f"the package lacks {', '.join(missing)}")
        if _addressee(payload) != addressee.code:
            raise package.PackageError("the package's destination does not match")
        if payload["origin"] == payload["destination"]:
            raise package.PackageError("a move within one municipality is not a 転出")
        sender, name = (("destination", "destination_name") if notice else ("origin", "origin_name"))
        if not _names_origin(signer, str(payload[sender]), str(payload.get(name, ""))):
            raise package.PackageError(f"the package's signer is not the municipality {payload[sender]}")
        _check_fields(payload)
        return addressee, payload, signer


def _check_fields(payload: dict) -> None:
    """What the 転入予定 row and the 転入 need, in their shapes (a signed package from a faulty
    origin system must be refused with a reason, not fail at the database)."""
    for side in ("origin", "destination"):
        if not (isinstance(payload[side], str) and len(payload[side]) == 6 and payload[side].isdigit()):
            raise package.PackageError(f"the package's {side} is not a 6-digit 団体コード")
    application = payload["application"]
    if not (isinstance(application, str) and 0 < len(application) <= 40):
        raise package.PackageError("the package's application number is empty or longer than 40 characters")
    day = "moved_in_on" if payload.get("kind") == NOTICE else "move_out_on"
    try:
        dt.date.fromisoformat(str(payload[day]))
    except ValueError:
        raise package.PackageError(f"the package's {day} is not a date (YYYY-MM-DD)") from None
    if payload.get("kind") == NOTICE:
        return
    persons = payload["persons"]
    if not (isinstance(persons, list) and persons and all(isinstance(p, dict) for p in persons)):
        raise package.PackageError("the package names no person moving")


def _incoming(destination, payload: dict, signer) -> IncomingMove:
    return IncomingMove(municipality=destination, origin_code=str(payload["origin"]),
                        application=str(payload["application"]), move_out_on=str(payload["move_out_on"]),
                        payload=payload, signer_sha256=signer.fingerprint(hashes.SHA256()).hex())


def receive(data: bytes) -> IncomingMove | OutgoingMove:
    """One package: a 転出 becomes the destination's 転入予定 (IncomingMove); a 転入通知 makes the
    origin's 転出 final (the OutgoingMove, its records moved out)."""
    destination, payload, signer = _Receiver().check(package.load(data))
    if payload.get("kind") == NOTICE:
        return _receive_notice(destination, payload)
    with tenant(destination):
        try:
            with transaction.atomic():
                move = _incoming(destination, payload, signer)
                move.save()
                record("moving.received", obj=move,
                       data={"origin": move.origin_code, "application": move.application})
        except IntegrityError:
            raise package.PackageError(ALREADY) from None
    return move


@dataclass
class Refusal:
    position: int  # 1-based, in the file
    application: str  # as the package says, unverified ("" when it cannot be read)
    reason: str


@dataclass
class Received:
    moves: list = field(default_factory=list)  # 転入予定 (IncomingMove)
    notices: list = field(default_factory=list)  # 転出 made final by a 転入通知 (OutgoingMove)
    refused: list = field(default_factory=list)


def receive_many(envelopes: list, progress=None) -> Received:
    """The packages of an exchange file: each verified as `receive` does; the good ones of a
    destination received in one transaction (its rows and audit events written together), a
    refused one named with its position and reason. A replay — of a package received before or
    twice in the file — is refused, never received twice."""
    receiver, result = _Receiver(), Received()
    by_destination: dict[str, list] = {}
    for position, envelope in enumerate(envelopes, 1):
        try:
            destination, payload, signer = receiver.check(envelope)
            if payload.get("kind") == NOTICE:  # few, each its own short transaction
                result.notices.append(_receive_notice(destination, payload))
            else:
                by_destination.setdefault(destination.code, []).append((position, destination, payload, signer))
        except package.PackageError as exc:
            result.refused.append(Refusal(position, _application_of(envelope), str(exc)))
        if progress:
            progress(1)
    for items in by_destination.values():
        destination = items[0][1]
        with tenant(destination):
            try:
                with transaction.atomic():
                    moves, replays = _receive_together(destination, items)
                result.moves += moves
                result.refused += replays
            except IntegrityError:  # another import received some of them meanwhile: this destination's
                # packages are all rolled back, and a second run receives the rest
                for position, _dest, payload, _signer in items:
                    result.refused.append(Refusal(position, str(payload["application"]),
                                                  "received by another import at the same time: import the file again"))
    result.refused.sort(key=lambda r: r.position)
    return result


def _receive_together(destination, items: list) -> tuple[list[IncomingMove], list[Refusal]]:
    keys = {(str(p["origin"]), str(p["application"])) for _pos, _d, p, _s in items}
    applications = sorted({application for _origin, application in keys})
    before = set()
    for start in range(0, len(applications), 500):  # under every database's limit on parameters
        before |= set(IncomingMove.objects.filter(application__in=applications[start:start + 500])
                      .values_list("origin_code", "application"))
    rows, seen, refused = [], set(), []
    for position, _dest, payload, signer in items:
        key = (str(payload["origin"]), str(payload["application"]))
        if key in before or key in seen:
            refused.append(Refusal(position, key[1], ALREADY))
            continue
        seen.add(key)
        rows.append(_incoming(destination, payload, signer))
    moves = IncomingMove.objects.bulk_create(rows, batch_size=500)
    record_many([{"action": "moving.received", "obj": move,
                  "data": {"origin": move.origin_code, "application": move.application}} for move in moves])
    return moves, refused


# -- the origin: a 転出届 accepted becomes a signed package -------------------------------

PROCEDURE = "tenshutsu"
ACCEPTED = "approved"


class MoveError(ValueError):
    """A move staff cannot do as asked; `status` is the HTTP answer, the message says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _person_facts(facts) -> dict:
    return {"origin_resident_number": facts.resident_number, "name": facts.name, "name_kana": facts.name_kana,
            "birth_date": facts.birth_date.isoformat(), "sex": facts.sex, "relationship": facts.relationship,
            "is_household_head": facts.is_household_head, "domicile": facts.domicile,
            "family_register_head": facts.family_register_head, "support_measure": facts.support_measure}


def destination_named(text: str) -> Municipality | None:
    """The municipality of this deployment the 転出届 names (its name, with or without the
    prefecture before it), or None: staff then give the 団体コード on the move's page."""
    text = "".join(str(text).split())
    if not text:
        return None
    for municipality in Municipality.objects.filter(is_active=True):
        if text == municipality.name or text.endswith(municipality.name) and text[:-len(municipality.name)] in (
                "", codes.prefecture_of(municipality.code)):
            return municipality
    return None


def _payload(application, movers: list, destination: Municipality | None) -> dict:
    data = application.data or {}
    municipality = application.municipality
    return {
        "kind": "tenshutsu", "origin": municipality.code, "origin_name": municipality.name,
        "destination": destination.code if destination else "",
        "destination_name": str(data.get("new_municipality", ""))[:60],
        "application": application.receipt_number or str(application.public_id),
        "move_out_on": str(data.get("move_date", "")), "visit_on": str(data.get("visit_date", "")),
        "new_postal_code": str(data.get("new_postal_code", "")), "new_address": str(data.get("new_address", "")),
        "new_household_head": str(data.get("new_household_head", "")),
        "address_before": movers[0].address if movers else "",
        "persons": [_person_facts(f) for f in movers],
        "issued_at": timezone.now().isoformat(timespec="seconds"),
    }


def after_transitions(transitions) -> None:
    """The transition listener of moving: a 転出届 accepted by staff becomes an OutgoingMove
    whose package is signed and delivered in the background (a task committed with the
    acceptance). A 転出届 whose movers are not all current members of the applicant's
    household refuses the acceptance with the reason (staff ask for a correction)."""
    from madoguchi.applications.transitions import ListenerRefused

    for transition in transitions:
        application = transition.application
        if transition.target != ACCEPTED or application.procedure.slug != PROCEDURE:
            continue
        link = identity.resident_link_of(application.person, municipality_id=application.municipality_id)
        if link is None:
            raise ListenerRefused(_("届出人が住民記録と結び付いていないため、転出届を受理できません。"))
        applicant = residents.facts_of(link.record_id)
        household = {f.resident_number: f for f in residents.household_of(applicant)}
        chosen = (application.data or {}).get("movers") or []
        strangers = [str(n) for n in chosen if n not in household]
        if strangers or not chosen:
            raise ListenerRefused(_("引越しする人に、届出人の世帯の住民でない人が含まれています（%(n)s）。補正を依頼してください。")
                                  % {"n": "、".join(strangers[:5]) or "—"})
        try:
            move_out_on = dt.date.fromisoformat(str(application.data.get("move_date")))
        except ValueError:
            raise ListenerRefused(_("引越しの日が読めません。補正を依頼してください。")) from None
        movers = [household[n] for n in chosen]
        destination = destination_named(application.data.get("new_municipality", ""))
        if destination is not None and destination.pk == application.municipality_id:
            raise ListenerRefused(_("転入先が同じ市区町村です。転居届として受け付けてください。"))
        payload = _payload(application, movers, destination)
        move = OutgoingMove.objects.create(
            municipality=application.municipality, application=payload["application"],
            application_id=application.public_id, person_id=application.person_id,
            destination_code=payload["destination"],
            destination_name=payload["destination_name"], move_out_on=move_out_on, payload=payload)
        record("moving.prepared", obj=move, data={"application": move.application,
                                                  "destination": move.destination_code or None,
                                                  "persons": len(movers)})
        from .tasks import produce_package

        produce_package.enqueue(application.municipality.code, move.pk)


def produce(move: OutgoingMove) -> OutgoingMove:
    """Signs the move's package with the origin's document key and delivers it: to the
    destination's 転入予定 when it is on this deployment, else kept for export. Idempotent:
    a move already signed is only (re)delivered."""
    origin = move.municipality
    with tenant(origin), transaction.atomic():
        move = OutgoingMove.objects.select_for_update().get(pk=move.pk)
        if move.status in (OutgoingMove.Status.DELIVERED, OutgoingMove.Status.CONFIRMED):
            return move
        if not move.destination_code:
            move.status = OutgoingMove.Status.NEEDS_DESTINATION
            move.save(update_fields=["status"])
            return move
        move.payload = {**move.payload, "destination": move.destination_code}
        move.package = package.sign(documents.identity(origin), move.payload)
        destination = Municipality.objects.filter(code=move.destination_code, is_active=True).first()
        if destination is None:
            move.status = OutgoingMove.Status.READY
            move.save(update_fields=["payload", "package", "status"])
            record("moving.signed", obj=move, data={"application": move.application,
                                                    "destination": move.destination_code})
            return move
    incoming = receive(bytes(move.package))  # verified exactly as an imported file is
    with tenant(origin), transaction.atomic():
        move.status, move.delivered_at = OutgoingMove.Status.DELIVERED, timezone.now()
        move.save(update_fields=["payload", "package", "status", "delivered_at"])
        record("moving.delivered", obj=move, data={"application": move.application,
                                                   "destination": move.destination_code,
                                                   "incoming": incoming.pk})
        if move.person_id:
            notices.fan_out_everywhere([move.person_id], category="applications", kind="moving.delivered",
                                       link=f"/{origin.code}/moving/")
    return move


def set_destination(user, move: OutgoingMove, code: str) -> OutgoingMove:
    """Staff give the destination's 全国地方公共団体コード (the 転出届 named a municipality not on
    this deployment, or one staff correct); the package is then signed and delivered."""
    code = str(code).strip()
    try:
        codes.validate_code(code)
    except codes.InvalidMunicipalityCode as exc:
        raise MoveError(str(exc)) from None
    if code == move.municipality.code:
        raise MoveError(_("転入先に自分の市区町村は指定できません。"))
    if move.status not in (OutgoingMove.Status.NEEDS_DESTINATION, OutgoingMove.Status.READY):
        raise MoveError(_("この転出はすでに転入先へ送付しています。"), status=409)
    with tenant(move.municipality), transaction.atomic():
        move.destination_code = code
        move.status = OutgoingMove.Status.PREPARING
        move.save(update_fields=["destination_code", "status"])
        record("moving.destination_set", actor=user, obj=move, data={"destination": code})
    return produce(move)


def export_new(municipality, write, user=None) -> tuple[list[OutgoingMove], list[IncomingMove]]:
    """The nightly exchange file: every signed 転出 package for another deployment and every
    転入通知 for an origin on another deployment not exported yet, as one file
    (`package.batch`) given to `write`, each export audited and marked in the same
    transaction — a file that cannot be written marks nothing. Either can still be exported
    again one by one from its page."""
    with tenant(municipality), transaction.atomic():
        moves = list(OutgoingMove.objects.select_for_update()
                     .filter(status=OutgoingMove.Status.READY, exported_at=None).exclude(package=None)
                     .order_by("created_at", "id"))
        notices = list(IncomingMove.objects.select_for_update()
                       .filter(notice_exported_at=None).exclude(notice=None).order_by("confirmed_at", "id"))
        if not moves and not notices:
            return [], []
        now = timezone.now()
        OutgoingMove.objects.filter(pk__in=[move.pk for move in moves]).update(exported_at=now)
        IncomingMove.objects.filter(pk__in=[incoming.pk for incoming in notices]).update(notice_exported_at=now)
        record_many([{"action": "moving.exported", "actor": user, "obj": move,
                      "data": {"destination": move.destination_code}} for move in moves]
                    + [{"action": "moving.notice_exported", "actor": user, "obj": incoming,
                        "data": {"origin": incoming.origin_code}} for incoming in notices])
        write(package.batch([bytes(move.package) for move in moves] + [bytes(i.notice) for i in notices]))
    return moves, notices


def export(move: OutgoingMove, user=None) -> bytes:
    """The signed package, for the national exchange or a destination's `moving import`."""
    if not move.package:
        raise MoveError(_("まだ署名済みの転出情報がありません（転入先の団体コードを入力してください）。"), status=409)
    with tenant(move.municipality), transaction.atomic():
        if move.exported_at is None:
            move.exported_at = timezone.now()
            move.save(update_fields=["exported_at"])
        record("moving.exported", actor=user, obj=move, data={"destination": move.destination_code})
    return bytes(move.package)


# -- the destination: the 転入 confirmed ---------------------------------------------------

def confirm(user, incoming: IncomingMove, *, moved_in_on: dt.date, address: str = "") -> list[int]:
    """Staff complete the 転入 at the counter: the people of the package become residents of
    the destination (the resident-record service), each account found at the origin is
    carried over (the same Person), and when the origin is on this deployment its records
    are marked moved out on the move-in day. All or nothing."""
    payload = incoming.payload
    if incoming.status != IncomingMove.Status.EXPECTED:
        raise MoveError(_("この転入はすでに確定しています。"), status=409)
    if moved_in_on > timezone.localdate():
        raise MoveError(_("転入日に未来の日付は入れられません。"))
    address = (address or payload.get("new_address", "")).strip()
    people = []
    for person in payload.get("persons", []):
        try:
            people.append({**person, "birth_date": dt.date.fromisoformat(person["birth_date"])})
        except (KeyError, TypeError, ValueError):
            raise MoveError(_("転出情報の生年月日が読めません。転出元に確認してください。")) from None
    destination = incoming.municipality
    origin = _local_origin(incoming)
    with transaction.atomic():
        try:
            ids = residents_services.record_move_in(destination, people, address=address, moved_in_on=moved_in_on,
                                                    actor=user)
        except residents_services.MoveError as exc:
            raise MoveError(str(exc)) from None
        carried = []
        if origin is not None:
            for person, record_id in zip(people, ids):
                person_id = identity.carry_person_on_move(origin.pk, person.get("origin_resident_number", ""),
                                                          destination, record_id, staff_user=user)
                if person_id is not None:
                    carried.append(person_id)
        with tenant(destination):
            updated = IncomingMove.objects.filter(pk=incoming.pk, status=IncomingMove.Status.EXPECTED).update(
                status=IncomingMove.Status.CONFIRMED, confirmed_at=timezone.now(), moved_in_on=moved_in_on,
                record_ids=ids)
            if not updated:
                raise MoveError(_("この転入はすでに確定しています。"), status=409)
            record("moving.confirmed", actor=user, obj=incoming, data={"origin": incoming.origin_code,
                                                                       "persons": len(ids), "accounts": len(carried)})
            notices.fan_out_everywhere(carried, category="applications", kind="moving.confirmed",
                                       link=f"/{destination.code}/moving/")
        if origin is not None:
            _moved_out(origin, incoming.application, destination.code, moved_in_on)
        else:  # another deployment: the origin learns it from the signed 転入通知
            from .tasks import produce_notice as produce_notice_task

            produce_notice_task.enqueue(destination.code, incoming.pk)
    incoming.refresh_from_db()
    return ids


def _local_origin(incoming: IncomingMove) -> Municipality | None:
    """The origin municipality when the 転出 was sent on this deployment (it holds the
    OutgoingMove): then the 転入 carries its accounts and makes its 転出 final directly.
    CHOICE: by the OutgoingMove, not by the code alone — two development deployments both
    host 窓口市, and a package imported from the other must not touch this one's records."""
    origin = Municipality.objects.filter(code=incoming.origin_code).first()
    return origin if origin is not None and _sent_from(origin, incoming) else None


def _sent_from(origin: Municipality, incoming: IncomingMove) -> bool:
    with tenant(origin):
        return OutgoingMove.objects.filter(application=incoming.application,
                                           destination_code=incoming.municipality.code).exists()


def _moved_out(origin: Municipality, application: str, destination_code: str, moved_on: dt.date) -> OutgoingMove | None:
    """The origin's 転出 made final: its records leave on the 転入's day; None when the origin
    has no such 転出 (or it is final already)."""
    # CHOICE: the records leave on the day the destination records as the move (the 異動日),
    # not the 転出届's planned day, which the resident may have moved before or after.
    with tenant(origin), transaction.atomic():
        move = (OutgoingMove.objects.select_for_update()
                .filter(application=application, destination_code=destination_code)
                .exclude(status=OutgoingMove.Status.CONFIRMED).first())
        if move is None:
            return None
        numbers = [p.get("origin_resident_number", "") for p in move.payload.get("persons", [])]
        residents_services.mark_moved_out(origin, numbers, left_on=moved_on)
        move.status, move.confirmed_at = OutgoingMove.Status.CONFIRMED, timezone.now()
        move.save(update_fields=["status", "confirmed_at"])
        record("moving.moved_out", obj=move, data={"destination": destination_code, "persons": len(numbers)})
    return move


def _receive_notice(origin: Municipality, payload: dict) -> OutgoingMove:
    """A verified 転入通知 from a destination on another deployment, at the origin."""
    application, destination = str(payload["application"]), str(payload["destination"])
    moved = _moved_out(origin, application, destination, dt.date.fromisoformat(payload["moved_in_on"]))
    if moved is not None:
        return moved
    with tenant(origin):
        if OutgoingMove.objects.filter(application=application, destination_code=destination).exists():
            raise package.PackageError(ALREADY)
    raise package.PackageError(f"{origin.code} has no 転出 {application} to {destination}")


def produce_notice(incoming: IncomingMove) -> IncomingMove:
    """The 転入通知 of a confirmed 転入 whose origin is on another deployment, signed with the
    destination's document key and kept for export (`moving export --new`), which the origin
    imports to mark its records moved out. On one deployment `confirm` does that directly.
    Idempotent."""
    destination = incoming.municipality
    with tenant(destination), transaction.atomic():
        incoming = IncomingMove.objects.select_for_update().get(pk=incoming.pk)
        if incoming.status != IncomingMove.Status.CONFIRMED or incoming.notice or _local_origin(incoming):
            return incoming
        payload = {"kind": NOTICE, "origin": incoming.origin_code,
                   "origin_name": incoming.payload.get("origin_name", ""), "destination": destination.code,
                   "destination_name": destination.name, "application": incoming.application,
                   "moved_in_on": incoming.moved_in_on.isoformat(), "issued_at": timezone.now().isoformat()}
        incoming.notice = package.sign(documents.identity(destination), payload)
        incoming.save(update_fields=["notice"])
        record("moving.notice_signed", obj=incoming, data={"origin": incoming.origin_code,
                                                           "application": incoming.application})
    return incoming


def export_notice(incoming: IncomingMove, user=None) -> bytes:
    """The signed 転入通知, for the origin's `moving import`."""
    if not incoming.notice:
        raise MoveError(_("転入通知はまだ作成されていません。しばらくしてからもう一度お試しください。"), status=409)
    with tenant(incoming.municipality), transaction.atomic():
        if incoming.notice_exported_at is None:
            incoming.notice_exported_at = timezone.now()
            incoming.save(update_fields=["notice_exported_at"])
        record("moving.notice_exported", actor=user, obj=incoming, data={"origin": incoming.origin_code})
    return bytes(incoming.notice)


def moves_of(municipality) -> dict:
    """The back office's lists: 転入予定 first (oldest first), then this municipality's 転出."""
    with tenant(municipality):
        return {"incoming": list(IncomingMove.objects.order_by("status", "received_at")[:200]),
                "outgoing": list(OutgoingMove.objects.order_by("-created_at")[:200])}


def origin_of(incoming: IncomingMove) -> dict:
    """What the destination's staff see of the origin: its name (from this deployment, else
    as the package names it), whether it is on this deployment, the signer's fingerprint."""
    known = Municipality.objects.filter(code=incoming.origin_code).first()
    return {"code": incoming.origin_code, "name": known.name if known else incoming.payload.get("origin_name", ""),
            "same_deployment": known is not None and _sent_from(known, incoming), "signer": incoming.signer_sha256}


# -- the resident: their moves and what usually follows ----------------------------------

def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _applies(follow_up: FollowUp, births: list[dt.date], today: dt.date) -> bool:
    ages = [_age(b, today) for b in births]
    return {FollowUp.Applies.EVERYONE: True,
            FollowUp.Applies.CHILDREN: any(a < 18 for a in ages),
            FollowUp.Applies.SCHOOL: any(6 <= a <= 15 for a in ages),
            FollowUp.Applies.SENIORS: any(a >= 65 for a in ages)}[follow_up.applies_to]


def follow_ups(person, event: str, births: list[dt.date]) -> list[dict]:
    """The municipality's follow-up procedures for `event` that apply to a household with these
    birth dates, each with the state of the person's application where it is online."""
    from madoguchi.applications import services as applications

    today = timezone.localdate()
    rows = [f for f in FollowUp.objects.filter(event=event) if _applies(f, births, today)]
    online = set()
    for slug in {f.procedure_slug for f in rows if f.procedure_slug}:
        try:
            applications.published(slug)
            online.add(slug)
        except applications.ApplicationError:
            pass  # not (or no longer) offered online here: no link to a page that is not there
    latest = applications.latest_by_procedure(person, online)
    return [{"title": f.title, "procedure_slug": f.procedure_slug if f.procedure_slug in online else "",
             "where": f.where, "application": latest.get(f.procedure_slug)} for f in rows]


def _births(persons: list[dict]) -> list[dt.date]:
    births = []
    for p in persons:
        try:
            births.append(dt.date.fromisoformat(str(p.get("birth_date"))))
        except ValueError:
            continue
    return births


def moves_of_resident(person, municipality) -> dict:
    """The resident's page: their 転出 from this municipality (where the package went, the visit
    to book at the destination, what follows a 転出 here) and their 転入 here (what follows it,
    for their household as it is now)."""
    with tenant(municipality):
        outgoing = []
        for move in OutgoingMove.objects.filter(person_id=person.pk).order_by("-created_at")[:5]:
            destination = Municipality.objects.filter(code=move.destination_code, is_active=True).first() \
                if move.destination_code else None
            outgoing.append({"move": move, "destination": destination,
                             "follow_ups": follow_ups(person, FollowUp.Event.MOVED_OUT,
                                                      _births(move.payload.get("persons", [])))})
        incoming = None
        link = identity.resident_link_of(person)
        if link is not None:
            facts = residents.facts_of(link.record_id)
            moved = [m for m in IncomingMove.objects.filter(status=IncomingMove.Status.CONFIRMED,
                                                             moved_in_on=link.record.resident_since)[:1000]
                     if link.record_id in (m.record_ids or [])] if link.record.resident_since else []
            if moved and facts is not None:
                births = [f.birth_date for f in residents.household_of(facts)]
                incoming = {"move": moved[0], "follow_ups": follow_ups(person, FollowUp.Event.MOVED_IN, births)}
        return {"outgoing": outgoing, "incoming": incoming}


DEMO_FOLLOW_UPS = [
    (FollowUp.Event.MOVED_IN, "国民健康保険の加入", FollowUp.Applies.EVERYONE, "", "保険年金課（本庁舎1階）"),
    (FollowUp.Event.MOVED_IN, "児童手当の認定請求", FollowUp.Applies.CHILDREN, "jidou-teate", ""),
    (FollowUp.Event.MOVED_IN, "小学校・中学校の転入学", FollowUp.Applies.SCHOOL, "", "教育委員会 学務課"),
    (FollowUp.Event.MOVED_IN, "印鑑登録", FollowUp.Applies.EVERYONE, "inkan-touroku", ""),
    (FollowUp.Event.MOVED_IN, "介護保険の住所地変更", FollowUp.Applies.SENIORS, "", "介護保険課"),
    (FollowUp.Event.MOVED_IN, "犬の登録の変更", FollowUp.Applies.EVERYONE, "", "環境課"),
    (FollowUp.Event.MOVED_OUT, "国民健康保険の資格喪失", FollowUp.Applies.EVERYONE, "", "保険年金課（本庁舎1階）"),
    (FollowUp.Event.MOVED_OUT, "児童手当の受給事由消滅", FollowUp.Applies.CHILDREN, "", "子育て支援課"),
    (FollowUp.Event.MOVED_OUT, "粗大ごみの収集申込み", FollowUp.Applies.EVERYONE, "sodai-gomi", ""),
]


def ensure_demo(municipality) -> None:
    """The demo's follow-up list (idempotent: only when the municipality has none)."""
    with tenant(municipality):
        if FollowUp.objects.exists():
            return
        for position, (event, title, applies, slug, where) in enumerate(DEMO_FOLLOW_UPS):
            FollowUp.objects.create(municipality=municipality, event=event, title=title, applies_to=applies,
                                    procedure_slug=slug, where=where, position=position)


def add_follow_up(user, **fields) -> FollowUp:
    with transaction.atomic():
        follow_up = FollowUp.objects.create(**fields)
        record("moving.follow_up_added", actor=user, obj=follow_up, data={"title": follow_up.title,
                                                                         "event": follow_up.event})
    return follow_up


def remove_follow_up(user, follow_up: FollowUp) -> None:
    with transaction.atomic():
        record("moving.follow_up_removed", actor=user, obj=follow_up, data={"title": follow_up.title})
        follow_up.delete()
