"""書かない窓口: verify a card face read at the counter, match the resident record, prefill the
visit's procedures, file them together, forget the read data (docs/counter.md).

The bytes come from the local card agent through the staff member's browser, so nothing in
them is trusted: the card face record and its CV certificate are verified here
(`card.face.verify_card_face`) under the configured issuer keys, against the 照合番号B the
card accepted; the text AP's basic four facts (the name and address as text, which the card
face holds only as images) are verified by the text AP's integrity record (EF 0003, under the
same issuer keys: `card.text.verify_text_record`) and must agree with the signed birth date
and sex.

The PIN path (`verify_text_read`): the resident types their 4-digit text PIN on the agent's
PC; the agent sends the text AP's basic four facts with its integrity record and CV
certificate, verified here the same way. No photo, no expiry: the card face is not read.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications import services as applications
from madoguchi.audit.services import record as audit
from madoguchi.card import apdu as A
from madoguchi.card import constants as C
from madoguchi.card import face as card_face
from madoguchi.card.text import verify_text_record
from madoguchi.identity.services import FourFacts, person_for_counter
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures import definition as defn
from madoguchi.residents import reading as residents

from .models import Desk, Visit, VisitProcedure

MAX_RAW_BYTES = 64 * 1024


class CounterError(Exception):
    """A refusal staff read: `code` for the tests, the message in Japanese (gettext)."""

    def __init__(self, code: str, message: str, field: str = ""):
        super().__init__(message)
        self.code, self.field = code, field


# -- the card face read ---------------------------------------------------------------------

def issuer_keys() -> dict:
    """COUNTER_FACE_ISSUER_KEYS ("KEYID=PEM;…"), else (dev/test only) the virtual card's demo
    issuer beside the development CA. Production J-LIS issuer keys are not public."""
    from cryptography.hazmat.primitives import serialization

    keys = {}
    for item in filter(None, (i.strip() for i in settings.COUNTER_FACE_ISSUER_KEYS.split(";"))):
        ident, _sep, path = item.partition("=")
        number, _slash, group = ident.partition("/")
        keys[card_face.key_id(number, group or "001")] = serialization.load_pem_public_key(Path(path).read_bytes())
    if keys or not settings.COUNTER_DEMO_ISSUER_ALLOWED:
        return keys
    from madoguchi.card import virtual

    demo = Path(settings.DATA_DIR) / "dev-ca"
    return virtual.face_issuer_keys(demo) if (demo / virtual.FACE_ISSUER_KEY_FILE).exists() else {}


def code_from(code_b: str = "", birth: dt.date | None = None, expiry_year: int | None = None,
              security_code: str = "") -> str:
    """照合番号B from the 14 digits, or from its three parts; CounterError naming the field."""
    code_b = (code_b or "").strip()
    try:
        if code_b:
            return card_face.check_code(C.FACE_CODE_B, code_b).decode()
        if birth is None or expiry_year is None or not security_code:
            raise CounterError("bad_code", _("照合番号B（14桁）か、生年月日・有効期限の年・セキュリティコードを入力してください。"),
                               "code_b")
        return card_face.code_b(birth, expiry_year, security_code)
    except ValueError:
        raise CounterError("bad_code", _("照合番号Bは14桁の数字です（生年月日の和暦6桁、有効期限の西暦4桁、セキュリティコード4桁）。"),
                           "code_b") from None


@dataclass(frozen=True)
class Reading:
    """A verified card face read. `photo_png` is for the page of this response only."""

    name: str
    address: str
    birth_date: dt.date
    sex: str
    expiry: dt.date | None
    card_hash: str
    photo_png: bytes
    method: str = "code_b"  # or "pin" (the text AP with the resident's PIN)


def _raw(value: str, what: str) -> bytes:
    try:
        data = base64.b64decode(value or "", validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data or len(data) > MAX_RAW_BYTES:
        raise CounterError("not_read", _("カードの読み取り結果が届いていません。カードを読み取ってください。") + f" ({what})")
    return data


def photo_png(photo: bytes) -> bytes:
    """The JPEG 2000 face photo as PNG, in memory only (browsers do not show JPEG 2000)."""
    from PIL import Image

    with Image.open(io.BytesIO(photo)) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, "PNG")
    return out.getvalue()


def _keys() -> dict:
    keys = issuer_keys()
    if not keys:
        raise CounterError("no_issuer", _("カードの真正性を確かめる鍵（券面事項確認APの発行者鍵）が設定されていません。管理者に連絡してください。"))
    return keys


def _forged() -> CounterError:
    return CounterError("forged", _("カードのデータの署名を確かめられませんでした。偽造または改ざんされたカードの可能性があります。受け付けず、カードと本人を改めて確認してください。"))


def verify_read(record_b64: str, cv_b64: str, text_b64: str, code: str, integrity_b64: str = "",
                text_cv_b64: str = "") -> Reading:
    """Checks the raw bytes the agent read; CounterError("forged") when anything fails."""
    record, cv, text = _raw(record_b64, "record"), _raw(cv_b64, "cv_certificate"), _raw(text_b64, "text_record")
    integrity, text_cv = _raw(integrity_b64, "text_integrity"), _raw(text_cv_b64, "text_cv_certificate")
    keys = _keys()
    try:
        face = card_face.verify_card_face(record, cv, keys, code)
        facts = verify_text_record(text, integrity, text_cv, keys)
    except (card_face.CardFaceError, A.MalformedAPDU, ValueError) as exc:
        raise _forged() from exc
    if (facts.birth, facts.sex) != (face.birth, face.sex):
        raise CounterError("forged", _("カードの文字情報が署名された券面の生年月日・性別と一致しません。偽造または改ざんされたカードの可能性があります。"))
    try:
        png = photo_png(face.photo)
    except Exception:  # noqa: BLE001 — an unreadable image inside a signed record
        png = b""
    return Reading(name=facts.name, address=facts.address, birth_date=face.birth, sex=face.sex, expiry=face.expiry,
                   card_hash=hashlib.sha256(record).hexdigest(), photo_png=png)


def verify_text_read(text_b64: str, integrity_b64: str, text_cv_b64: str) -> Reading:
    """The PIN path: the text AP's basic four facts, authenticated by its integrity record
    (EF 0003) under the CV certificate's key, itself under the configured issuer keys. The
    integrity record holds a digest of the individual number: it is verified and dropped."""
    text = _raw(text_b64, "text_record")
    integrity, cv = _raw(integrity_b64, "text_integrity"), _raw(text_cv_b64, "text_cv_certificate")
    keys = _keys()
    try:
        facts = verify_text_record(text, integrity, cv, keys)
    except (card_face.CardFaceError, A.MalformedAPDU, ValueError) as exc:
        raise _forged() from exc
    return Reading(name=facts.name, address=facts.address, birth_date=facts.birth, sex=facts.sex, expiry=None,
                   card_hash=hashlib.sha256(integrity).hexdigest(), photo_png=b"", method="pin")


# -- the visit -------------------------------------------------------------------------------

def _now():
    return timezone.now()


def open_visit(staff, reading: Reading) -> Visit:
    """Matches the resident record by the verified name + birth date + sex (never by the
    individual number) and opens a visit; every read is audited, a refused match too."""
    matches = residents.matching(reading.name, reading.birth_date, reading.sex)
    if len(matches) != 1:
        audit("counter.card_read", actor=staff, obj=("card", reading.card_hash[:16]),
              data={"card": reading.card_hash, "matched": len(matches), "method": reading.method})
        if not matches:
            raise CounterError("no_match", _("カードの氏名・生年月日・性別に一致する住民記録がありません。住民記録を確かめてください。何も受け付けていません。"))
        raise CounterError("several", _("一致する住民記録が複数あります。住民記録を確かめてください。何も受け付けていません。"))
    matched = matches[0]
    now = _now()
    with transaction.atomic():
        visit = Visit.objects.create(
            served_by=staff, card_hash=reading.card_hash, record_id=matched.id,
            expires_at=now + dt.timedelta(minutes=settings.COUNTER_VISIT_MINUTES),
            facts={"name": reading.name, "address": reading.address, "birth_date": reading.birth_date.isoformat(),
                   "sex": reading.sex, "name_kana": matched.name_kana, "method": reading.method,
                   "expiry": reading.expiry.isoformat() if reading.expiry else ""})
        audit("counter.card_read", actor=staff, obj=visit,
              data={"card": reading.card_hash, "matched": 1, "method": reading.method})
    return visit


def visit_of(public_id) -> Visit:
    """The open visit of the municipality in scope (Visit.DoesNotExist otherwise: a 404);
    an expired one is closed on the spot and refused."""
    visit = Visit.objects.get(public_id=public_id)
    if visit.status == Visit.Status.OPEN and visit.expires_at <= _now():
        expire(visit)
    if visit.status != Visit.Status.OPEN:
        raise CounterError("expired", _("この受付は終了しているか、期限が切れています。読み取ったデータは消去しました。カードをもう一度読み取ってください。"))
    return visit


def record_of(visit: Visit):
    return residents.facts_of(visit.record_id) if visit.record_id else None


def household(visit: Visit) -> list[tuple[str, str]]:
    facts = record_of(visit)
    return [(m.resident_number, m.name) for m in residents.household_of(facts)] if facts else []


def published_procedures() -> list:
    """The municipality's published procedures (current versions), for staff to choose from."""
    return applications.catalog()


def _prefill(version, visit: Visit) -> dict:
    facts = record_of(visit)
    values = applications.prefill_from(version, {k: visit.facts[k] for k in ("name", "birth_date", "address", "sex")},
                                       facts)
    if facts is not None and not facts.support_measure:
        members = [m for m, _name in household(visit)]
        for field_ in defn.iter_fields(version.definition):
            if field_.get("widget") == "household_members":
                values[field_["name"]] = members
    return values


def choose(visit: Visit, staff, slugs) -> list[VisitProcedure]:
    """The procedures of this visit, each prefilled from the one reading; audited."""
    available = {v.procedure.slug: v for v in published_procedures()}
    slugs = [s for s in dict.fromkeys(slugs or []) if isinstance(s, str)]
    unknown = [s for s in slugs if s not in available]
    if not slugs or unknown:
        raise CounterError("no_procedure", _("この受付の手続きを一つ以上選んでください。"), "procedures")
    with transaction.atomic():
        visit.procedures.exclude(slug__in=slugs).delete()
        have = set(visit.procedures.values_list("slug", flat=True))
        for slug in slugs:
            if slug not in have:
                version = available[slug]
                VisitProcedure.objects.create(visit=visit, slug=slug, version_id=version.pk,
                                              data=_prefill(version, visit))
        audit("counter.procedures_chosen", actor=staff, obj=visit,
              data={"card": visit.card_hash, "procedures": slugs})
    return list(visit.procedures.order_by("pk"))


def version_of(item: VisitProcedure):
    from madoguchi.applications.services import published

    return published(item.slug)


def _stand_in(visit: Visit):
    """What `applications.prepare` reads of a Person while nothing is filed yet (the real
    Person is found or made only when the visit is filed)."""
    return SimpleNamespace(pk=0, verified_birth_date=dt.date.fromisoformat(visit.facts["birth_date"]))


def _unsign(item: VisitProcedure) -> None:
    item.sign_nonce = item.sign_ceremony = item.sign_token = ""
    item.signature = None


def save_procedure(visit: Visit, item: VisitProcedure, data: dict) -> None:
    """Keeps what staff filled; raises applications.ApplicationError with field errors. A
    signature made over the earlier data is dropped (the resident signs the new form again)."""
    version = version_of(item)
    item.data = data
    item.complete = False
    _unsign(item)
    try:
        applications.prepare(version, _stand_in(visit), data, record=record_of(visit))
    finally:
        item.save(update_fields=["data", "complete", "sign_nonce", "sign_ceremony", "sign_token", "signature"])
    item.complete = True
    item.save(update_fields=["complete"])


# -- signing at the counter --------------------------------------------------------------------

def _facts(visit: Visit) -> FourFacts:
    return FourFacts(name=visit.facts["name"], birth_date=dt.date.fromisoformat(visit.facts["birth_date"]),
                     sex=visit.facts["sex"], address=visit.facts["address"])


def _document(visit: Visit, item: VisitProcedure) -> bytes:
    return applications.prepare(version_of(item), _stand_in(visit), item.data, record=record_of(visit),
                                nonce=item.sign_nonce).document


def start_signing(visit: Visit, item: VisitProcedure):
    """Opens the `sign` ceremony over this procedure's document (the one filing will store),
    for the resident's card on the counter's reader (through the local agent, the resident
    typing the signature password there). Returns the ceremony id; its poll token stays in
    the visit. Only a checked (確認済み) form is signed."""
    from madoguchi.ceremonies import callers as ceremonies

    if not item.complete:
        raise CounterError("incomplete", _("入力が終わっていない手続きは署名できません。先に内容を確かめてください。"))
    _unsign(item)
    item.sign_nonce = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    version = version_of(item)
    opened = ceremonies.open(
        ceremonies.SIGN, municipality=visit.municipality, document=_document(visit, item), require_card=True,
        requester=(_("%(municipality)s 書かない窓口") % {"municipality": visit.municipality.name})[:200],
        reason=_("%(title)sの申請（窓口）") % {"title": version.definition["title"]["ja"]})
    item.sign_ceremony, item.sign_token = opened.id, opened.poll_token
    item.save(update_fields=["sign_nonce", "sign_ceremony", "sign_token", "signature"])
    return opened.id


def finish_signing(visit: Visit, item: VisitProcedure, staff) -> None:
    """Takes the completed ceremony's CMS (verified by the ceremony as for an online
    application: chain, revocation, binding) once its signer's four facts are the ones the
    card read proved; audited. CounterError when it is not done or not the resident's."""
    from madoguchi.ceremonies import callers as ceremonies

    if not item.sign_ceremony or not item.sign_token:
        raise CounterError("not_signed", _("署名が始まっていません。もう一度「カードで署名する」を押してください。"))
    try:
        result = ceremonies.take(item.sign_ceremony, item.sign_token)
    except ceremonies.CeremonyError as exc:
        _unsign(item)
        item.save(update_fields=["sign_nonce", "sign_ceremony", "sign_token", "signature"])
        raise CounterError("not_signed", _("署名を確認できませんでした。もう一度「カードで署名する」を押してください。")) from exc
    if result.signature is None or not applications.signer_is(result.verification, _facts(visit)) \
            or result.document_sha256 != hashlib.sha256(_document(visit, item)).hexdigest():
        _unsign(item)
        item.save(update_fields=["sign_nonce", "sign_ceremony", "sign_token", "signature"])
        audit("counter.sign_refused", actor=staff, obj=visit, data={"card": visit.card_hash, "procedure": item.slug})
        raise CounterError("wrong_signer", _("読み取ったカードの方の電子署名ではありません。署名は受け付けていません。"))
    item.signature = result.signature
    item.sign_token = ""
    item.save(update_fields=["signature", "sign_token"])
    audit("counter.signed", actor=staff, obj=visit, data={"card": visit.card_hash, "procedure": item.slug,
                                                          "ceremony": result.id})


def screen_state(visit: Visit) -> str:
    """A digest of what the second screen shows, so it reloads only when something changed."""
    parts = [visit.status] + [f"{i.slug}|{i.complete}|{i.signature is not None}|{i.sign_ceremony}|"
                              f"{hashlib.sha256(repr(sorted(i.data.items())).encode()).hexdigest()}"
                              for i in visit.procedures.order_by("pk")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# -- the resident-facing screen of a staff member's desk -----------------------------------

PIN_REQUEST_MINUTES = 5  # a PIN pad left open longer goes back to standby


def show_on_desk(staff, visit: Visit) -> None:
    """The desk's screen follows this visit (opened by any read at this desk)."""
    Desk.objects.update_or_create(staff=staff, defaults={"visit": visit, "pin_requested_at": None})


def request_pin(staff) -> None:
    """The staff member asks the resident to type their PIN on the desk's screen."""
    with transaction.atomic():
        Desk.objects.update_or_create(staff=staff, defaults={"pin_requested_at": _now(), "visit": None})
        audit("counter.pin_requested", actor=staff, obj=("desk", str(staff.pk)), data={})


def cancel_pin(staff) -> None:
    Desk.objects.filter(staff=staff).update(pin_requested_at=None)


def desk_state(staff) -> dict:
    """What the desk's screen shows: `pin` (the PIN pad), `visit` (the visit's forms, with its
    id) or `idle` (standby)."""
    desk = Desk.objects.select_related("visit").filter(staff=staff).first()
    if desk is None:
        return {"state": "idle"}
    if desk.pin_requested_at and desk.pin_requested_at > _now() - dt.timedelta(minutes=PIN_REQUEST_MINUTES):
        return {"state": "pin"}
    visit = desk.visit
    if visit is not None and visit.status == Visit.Status.OPEN and visit.expires_at > _now():
        return {"state": "visit", "visit": str(visit.public_id)}
    return {"state": "idle"}


def open_visit_at_desk(staff, reading: Reading) -> Visit:
    """The PIN typed on the desk's screen read the card: the visit opens for the staff member
    who asked for the PIN, and both the staff page and the screen follow it."""
    if desk_state(staff)["state"] != "pin":
        raise CounterError("not_requested", _("職員が暗証番号の入力をお願いしていないか、時間がたちすぎました。職員にお知らせください。"))
    visit = open_visit(staff, reading)
    show_on_desk(staff, visit)
    return visit


def _wipe(visit: Visit, status: str) -> None:
    visit.procedures.update(data={}, sign_nonce="", sign_ceremony="", sign_token="", signature=None)
    visit.facts = {}
    visit.status = status
    visit.closed_at = _now()
    visit.save(update_fields=["facts", "status", "closed_at"])


def file(visit: Visit, staff) -> list:
    """Every procedure of the visit becomes an application in its department's inbox, flagged
    as made at the counter by `staff`: all in one transaction or none. Then the read data is
    deleted."""
    items = list(visit.procedures.order_by("pk"))
    if not items:
        raise CounterError("no_procedure", _("この受付の手続きを一つ以上選んでください。"), "procedures")
    incomplete = [i.slug for i in items if not i.complete]
    if incomplete:
        raise CounterError("incomplete", _("入力が終わっていない手続きがあります。すべての手続きを確かめてから申請してください。"))
    facts = _facts(visit)
    unfinished = [i.slug for i in items if i.sign_ceremony and i.signature is None]
    if unfinished:
        raise CounterError("signing", _("署名の途中の手続きがあります。署名を終えるか、もう一度内容を確かめてください。"))

    def entry(item):
        if item.signature is None:
            return (version_of(item), item.data)
        signed = applications.Signed(document=_document(visit, item), cms=bytes(item.signature))
        return (version_of(item), item.data, signed, item.sign_nonce)

    with transaction.atomic():
        person = person_for_counter(visit.municipality, visit.record_id, facts, staff)
        filed = applications.submit_at_counter([entry(i) for i in items], person, staff,
                                               key=visit.public_id.hex, signer=facts)
        for item, application in zip(items, filed):
            item.receipt_number = application.receipt_number
            item.save(update_fields=["receipt_number"])
        audit("counter.filed", actor=staff, obj=visit,
              data={"card": visit.card_hash, "procedures": [i.slug for i in items],
                    "signed": [i.slug for i in items if i.signature is not None],
                    "receipts": [a.receipt_number for a in filed]})
        _wipe(visit, Visit.Status.FILED)
    return filed


def close(visit: Visit, staff) -> None:
    with transaction.atomic():
        _wipe(visit, Visit.Status.CLOSED)
        audit("counter.visit_closed", actor=staff, obj=visit, data={"card": visit.card_hash})


def expire(visit: Visit) -> None:
    with transaction.atomic():
        _wipe(visit, Visit.Status.EXPIRED)
        audit("counter.visit_expired", actor=None, obj=visit, data={"card": visit.card_hash})


def sweep(now: dt.datetime | None = None) -> int:
    """The worker's sweep: the read data of every open visit past its expiry is deleted."""
    now = now or _now()
    due = list(Visit.unscoped.filter(status=Visit.Status.OPEN, expires_at__lte=now)
               .select_related("municipality")[:5000])
    for visit in due:
        with tenant(visit.municipality):
            if Visit.objects.filter(pk=visit.pk, status=Visit.Status.OPEN).exists():
                expire(visit)
    return len(due)


# -- the printed form ------------------------------------------------------------------------

def pdf(visit: Visit, item: VisitProcedure) -> bytes:
    """The checked form of one procedure as a PDF with a box for the handwritten signature."""
    return _forms_pdf(visit, [item])


def forms_pdf(visit: Visit) -> bytes:
    """Every form of the visit the resident signs by hand, in one PDF (one print at the
    counter instead of one per procedure), each form on its own pages with its own box:
    the procedures not signed with the card. CounterError when there is none."""
    items = [item for item in visit.procedures.order_by("pk") if item.signature is None]
    if not items:
        raise CounterError("nothing_to_print", _("紙に署名する手続きはありません（すべてカードで電子署名済みです）。"))
    return _forms_pdf(visit, items)


def _forms_pdf(visit: Visit, items: list[VisitProcedure]) -> bytes:
    import weasyprint
    from django.template.loader import render_to_string
    from django.utils import translation

    from madoguchi.documents import fonts
    from madoguchi.procedures import forms

    fonts.require(fonts.PDF_FONTS)
    members = household(visit)
    printed = []
    for item in items:
        version = version_of(item)
        printed.append({"title": version.definition["title"]["ja"],
                        "rows": forms.display(version.definition, item.data, members)})
    with translation.override("ja"):
        html = render_to_string("counter/pdf.html", {
            "title": printed[0]["title"] if len(printed) == 1 else "申請書", "forms": printed,
            "municipality": visit.municipality, "visit": visit})
    return weasyprint.HTML(string=html, base_url=None).write_pdf()
