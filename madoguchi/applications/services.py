"""Submitting applications, moving them through the state machine, revealing numbers.

Everything an application is made of (the row, its sealed individual numbers, its
attachments, its first status events, notices and audit events) is written in one
transaction: a failure at any point leaves the whole application or nothing. Duplicates
are refused by database constraints, not by reading first: the idempotency key
(a double tap or a retry returns the first application) and one open application per
person or household and procedure.
"""

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field

import rfc8785
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record, record_many
from madoguchi.card import mynumber as card_mynumber
from madoguchi.core import jsontext
from madoguchi.municipalities.tenancy import CrossTenantWrite, current_municipality, tenant
from madoguchi.procedures import definition as defn
from madoguchi.procedures.models import ProcedureVersion

from . import mynumber
from .attachments import clean_name, delete_files, sniff
from .models import Application, ApplicationEvent, Attachment, IndividualNumber, Notice, ReceiptCounter
from .statemachine import FINAL, OPEN, Role, Status, TransitionRefused, check, find  # noqa: F401

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_DATA_BYTES = 256 * 1024
from madoguchi.core.dates import today_in_japan  # noqa: F401,E402 (callers use services.today_in_japan)


class ApplicationError(Exception):
    """A refusal the resident (or the API) is told about: a code, an HTTP status, a message
    and, for bad data, field-level messages {JSON pointer: [message]}."""

    status = 400

    def __init__(self, code: str, message: str, errors: dict | None = None, status: int | None = None):
        self.code = code
        self.errors = errors or {}
        if status is not None:
            self.status = status
        super().__init__(message)


@dataclass
class Upload:
    name: str
    content: bytes


@dataclass
class Signed:
    """A `sign` ceremony's result: the bytes it signed and the CMS (and, when the API took it
    from its ceremony in this request, that ceremony's row, so the binding check need not
    read it again)."""

    document: bytes
    cms: bytes
    ceremony: object = field(default=None, compare=False, repr=False)


@dataclass
class Prepared:
    version: ProcedureVersion
    data: dict  # with the individual numbers, never stored as is
    numbers: dict  # JSON pointer → individual number
    attachments: list = field(default_factory=list)  # dicts: name, sha256, size, type, content
    document: bytes = b""
    nonce: str = ""
    fee_yen: int = 0
    dedup_key: str = ""
    household_id: str = ""
    not_individual_numbers: list = field(default_factory=list)  # free text the resident said holds none

    @property
    def needs_signature(self) -> bool:
        return self.version.definition["assurance"] == "signature"


def resident_record(person):
    from madoguchi.identity.models import ResidentLink

    link = ResidentLink.objects.filter(person=person).select_related("record").first()
    return link.record if link else None


def prefill(version: ProcedureVersion, person, record=None) -> dict:
    """Initial values from the verified four facts and the resident record. Nothing is
    prefilled for a record under 支援措置 (DV and stalking protection)."""
    if record is not None and record.support_measure:
        return {}
    sources = {"name": person.verified_name, "birth_date": person.verified_birth_date.isoformat(),
               "address": person.verified_address, "sex": person.verified_sex,
               "name_kana": record.name_kana if record is not None else ""}
    values = {}
    for field_ in defn.iter_fields(version.definition):
        value = sources.get(field_.get("prefill", ""))
        if value:
            values[field_["name"]] = value
    return values


def _normalize_numbers(schema: dict, data: dict) -> dict:
    data = copy.deepcopy(data)
    for pointer in defn.mynumber_pointers(schema, data):
        defn.set_pointer(data, pointer, mynumber.normalize(defn.get_pointer(data, pointer)))
    return data


def _household_errors(definition: dict, data: dict, record) -> dict:
    errors = {}
    for field_ in defn.iter_fields(definition):
        if field_.get("widget") != "household_members" or field_["name"] not in data:
            continue
        members = set()
        if record is not None and record.household_id:
            from madoguchi.residents.models import ResidentRecord

            members = set(ResidentRecord.objects.filter(household_id=record.household_id, status="resident")
                          .values_list("resident_number", flat=True))
        for i, value in enumerate(data[field_["name"]] if isinstance(data[field_["name"]], list) else []):
            if value not in members:
                errors.setdefault(f"/{field_['name']}/{i}", []).append(_("同じ世帯の方から選んでください。"))
    return errors


def document_bytes(version: ProcedureVersion, data: dict, attachments: list, nonce: str,
                   not_individual_numbers=()) -> bytes:
    """The canonical JSON (RFC 8785) the resident signs. The random nonce keeps the
    document's hash (in the CMS) from revealing an individual number by brute force.
    `not_individual_numbers` (present only when the resident said so) lists the free-text
    fields whose 12 digits they confirmed are not an individual number: they sign that too."""
    document = {
        "procedure": version.procedure.slug, "version": version.number, "data": data,
        "attachments": [{k: a[k] for k in ("name", "sha256", "size", "type")} for a in attachments],
        "nonce": nonce,
    }
    if not_individual_numbers:
        document["not_individual_numbers"] = sorted(not_individual_numbers)
    return rfc8785.dumps(document)


TEXT_NUMBER_CHOICES = ("mask", "keep")


def numbers_in_text(definition: dict, data) -> list[str]:
    """JSON pointers of the free-text values (strings without enum, const, pattern or
    format in the schema: names, addresses, descriptions) holding something that is a valid
    individual number (card.mynumber.find_in_text). Legal My Number fields have a format
    and are not free text."""
    found = []

    def walk(schema, value, pointer):
        if not isinstance(schema, dict):
            return
        if isinstance(value, dict):
            for name, sub in (schema.get("properties") or {}).items():
                if name in value:
                    walk(sub, value[name], f"{pointer}/{jsontext.token(name)}")
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                walk(schema["items"], item, f"{pointer}/{i}")
        elif isinstance(value, str) and not any(k in schema for k in ("enum", "const", "pattern", "format")):
            if card_mynumber.find_in_text(value):
                found.append(pointer)

    walk(definition["schema"], data, "")
    return found


def _confirmed(document: dict) -> str | None:
    """The choice a stored document records: "keep" when the resident confirmed numbers in
    free text are not individual numbers (masked ones no longer look like one)."""
    return "keep" if document.get("not_individual_numbers") else None


def _nonce_of(document: bytes) -> str | None:
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        return None
    nonce = parsed.get("nonce") if isinstance(parsed, dict) else None
    return nonce if isinstance(nonce, str) and re.fullmatch(r"[A-Za-z0-9_-]{22}", nonce) else None


def prepare(version: ProcedureVersion, person, data, uploads=(), *, today: dt.date | None = None,
            nonce: str | None = None, record=None, correction: bool = False, partial: bool = False,
            text_numbers: str | None = None) -> Prepared:
    """Checks everything about an application without storing anything; raises
    ApplicationError with field-level messages. An individual number in a free-text field
    is refused (`individual_number_in_text`, the fields named) unless `text_numbers` says
    what to do: "mask" replaces it by its mask *before* the document is built (so the
    resident signs the masked text), "keep" keeps it, recording in the document that the
    resident confirmed it is not one. A `correction` (of a returned application)
    stays on its own version, even retired or past its open period. `partial` (an API
    draft, whose files come one by one) leaves out the minimum number of attachments,
    which the submission checks."""
    if current_municipality() is not None and current_municipality().pk != version.municipality_id:
        raise ApplicationError("not_found", _("この手続はありません。"), status=404)
    if version.status != ProcedureVersion.Status.PUBLISHED and not correction:
        raise ApplicationError("closed", _("この手続は現在受け付けていません。"), status=409)
    definition = version.definition
    today = today or today_in_japan()
    if not correction and not defn.is_open(definition, today):
        raise ApplicationError("closed", _("この手続は受付期間外です。"), status=409)
    if not isinstance(data, dict):
        raise ApplicationError("invalid", _("入力内容を確かめてください。"), {"/": [_("入力の形式が正しくありません。")]})
    lone = jsontext.lone_surrogates(data)  # before anything encodes the data as UTF-8
    if lone:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"),
                               {p: [_("使えない文字（対になっていないサロゲート）が含まれています。")] for p in lone})
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise ApplicationError("too_large", _("入力が大きすぎます。"), status=413)
    control = _control_characters(data)
    if control:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"),
                               {p: [_("使えない制御文字が含まれています。")] for p in control})
    with tenant(version.municipality):
        if record is None:
            record = resident_record(person)
        problems = defn.eligibility_problems(definition, birth_date=person.verified_birth_date, record=record,
                                             today=today)
        if problems:
            raise ApplicationError("not_eligible", problems[0], {"/": problems}, status=403)
        data = _normalize_numbers(definition["schema"], defn.prune_hidden(definition, data))
        errors = defn.data_errors(definition, data, today)
        for pointer, messages in _household_errors(definition, data, record).items():
            errors.setdefault(pointer, []).extend(messages)
    attachments, attachment_errors = _check_uploads(definition, uploads, minimum=not partial)
    errors.update(attachment_errors)
    if errors:
        raise ApplicationError("invalid", _("入力内容を確かめてください。"), errors)
    in_text = numbers_in_text(definition, data)
    kept = []
    if in_text and text_numbers == "mask":
        for pointer in in_text:
            defn.set_pointer(data, pointer, card_mynumber.mask_in_text(defn.get_pointer(data, pointer)))
        errors = defn.data_errors(definition, data, today)  # the mask is two characters longer
        if errors:
            raise ApplicationError("invalid", _("入力内容を確かめてください。"), errors)
    elif in_text and text_numbers == "keep":
        kept = in_text
    elif in_text:
        raise ApplicationError("individual_number_in_text", _(
            "マイナンバー（個人番号）と思われる番号が入力されています。番号を伏せて進むか、マイナンバーではないことを確認してください。"),
            {p: [_("マイナンバー（個人番号）と思われる12桁の番号があります。マイナンバーはこの欄に書かないでください。")]
             for p in in_text})
    numbers = {p: defn.get_pointer(data, p) for p in defn.mynumber_pointers(definition["schema"], data)}
    nonce = nonce or base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    rule = definition.get("one_open_per", "none")
    household_id = record.household_id if record is not None else ""
    if rule == "person" or (rule == "household" and not household_id):
        dedup_key = f"person:{person.pk}"
    elif rule == "household":
        dedup_key = f"household:{household_id}"
    else:
        dedup_key = ""
    return Prepared(version=version, data=data, numbers=numbers, attachments=attachments,
                    document=document_bytes(version, data, attachments, nonce, kept), nonce=nonce,
                    fee_yen=defn.fee_yen(definition, data), dedup_key=dedup_key, household_id=household_id,
                    not_individual_numbers=kept)


def _control_characters(value, pointer: str = "") -> list[str]:
    """JSON pointers of strings (keys or values) holding NUL or another C0 control character
    other than tab and newlines: no form field needs one, and PostgreSQL refuses NUL."""
    bad = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{pointer}/{str(k).replace('~', '~0').replace('/', '~1')}"
            found += [here] if bad.search(str(k)) else _control_characters(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _control_characters(v, f"{pointer}/{i}")
    elif isinstance(value, str) and bad.search(value):
        found.append(pointer or "/")
    return found


def _check_uploads(definition: dict, uploads, minimum: bool = True) -> tuple[list, dict]:
    rules = definition.get("attachments") or {"max_count": 0, "max_bytes": 1, "types": []}
    uploads = list(uploads)
    if len(uploads) > rules["max_count"]:
        return [], {"/attachments": [_("添付できるファイルは%(n)s件までです。") % {"n": rules["max_count"]}]}
    if minimum and len(uploads) < rules.get("min_count", 0):
        return [], {"/attachments": [_("ファイルを%(n)s件以上添付してください。") % {"n": rules["min_count"]}]}
    limit = min(rules["max_bytes"], settings.APPLICATION_ATTACHMENT_MAX_BYTES)
    found, errors = [], {}
    for i, upload in enumerate(uploads):
        content = bytes(upload.content)
        where = f"/attachments/{i}"
        if len(content) > limit:
            errors[where] = [_("ファイルが大きすぎます（%(n)sバイトまで）。") % {"n": f"{limit:,}"}]
            continue
        kind = sniff(content)
        if kind is None or kind not in rules["types"]:
            errors[where] = [_("このファイルの種類は添付できません。")]
            continue
        found.append({"name": clean_name(upload.name), "sha256": hashlib.sha256(content).hexdigest(),
                      "size": len(content), "type": kind, "content": content})
    return found, errors


def _check_signature(prepared: Prepared, person, signed: Signed | None) -> dict:
    """The verification record of a CMS by this person over exactly these bytes."""
    if signed is None:
        if prepared.needs_signature:
            raise ApplicationError("signature_required", _("この手続には電子署名が必要です。"))
        return {}
    from madoguchi.ceremonies.pki import validator
    from madoguchi.identity.services import CertificateRef, person_for_credential
    from madoguchi.pki.errors import PKIError
    from madoguchi.pki.verify import verify_detached

    if bytes(signed.document) != prepared.document:
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    try:
        verified = verify_detached(bytes(signed.cms), prepared.document, validator())
    except PKIError:
        raise ApplicationError("signature_invalid", _("電子署名を確認できませんでした。")) from None
    if not verified.ok:
        raise ApplicationError("signature_invalid", _("電子署名を確認できませんでした。"))
    signer = person_for_credential(CertificateRef.from_der(verified.chain[0])) if verified.chain else None
    if signer is None or signer.pk != person.pk:
        raise ApplicationError("wrong_signer", _("申請者本人の電子署名ではありません。"), status=403)
    _check_binding(prepared, person, verified.ceremony, bytes(signed.cms), taken=signed.ceremony)
    return {"sign": verified.as_dict()}


def _check_binding(prepared: Prepared, person, binding, cms: bytes, taken=None) -> None:
    """The CMS must carry the binding (docs/ceremony.md) of a `sign` ceremony of this
    municipality's portal, opened over exactly this document, completed by this person
    with exactly this CMS. A CMS made for another ceremony, audience, document or
    municipality is refused here, whichever way it reached submit(); and a signed
    document already submitted is never submitted again (a second application from one
    signature). `taken`: the ceremony row this request already read (and consumed), used
    when it is the one the binding names; otherwise the row is read here."""
    from madoguchi.ceremonies.models import Ceremony

    municipality = prepared.version.municipality
    refused = ApplicationError("wrong_ceremony", _("電子署名がこの申請のための手続きのものではありません。"))
    if binding is None or binding.purpose != "sign" or binding.audience != f"{municipality.code}:portal":
        raise refused
    digest = hashlib.sha256(prepared.document).hexdigest()
    with tenant(municipality):
        if taken is not None and taken.public_id == binding.ceremony_id and taken.municipality_id == municipality.pk:
            ceremony = taken
        else:
            ceremony = Ceremony.objects.filter(public_id=binding.ceremony_id, purpose=Ceremony.Purpose.SIGN).first()
        if ceremony is None or ceremony.purpose != Ceremony.Purpose.SIGN \
                or bytes(ceremony.challenge) != binding.challenge \
                or ceremony.audience != binding.audience or ceremony.document_sha256 != digest \
                or ceremony.status not in (Ceremony.Status.COMPLETED, Ceremony.Status.CONSUMED) \
                or ceremony.person_id != person.pk or bytes(ceremony.signature or b"") != cms:
            raise refused
        if Application.objects.filter(person=person, document_sha256=digest).exclude(status=Status.DRAFT).exists():
            raise ApplicationError("signature_used", _("この電子署名はすでに別の申請に使われています。"), status=409)


def _request_digest(prepared: Prepared) -> str:
    """Keyed (not a plain hash: the data may hold an individual number)."""
    body = rfc8785.dumps({"version": prepared.version.pk, "data": prepared.data,
                          "attachments": [a["sha256"] for a in prepared.attachments]})
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()


def _next_receipt(municipality, year: int) -> str:
    """The next 受付番号 of the municipality and year, in one statement: an upsert that
    returns the new value (SQLite ≥ 3.35 and PostgreSQL). It row-locks the counter until
    commit, so every submission of the municipality waits here: callers take it as late in
    their transaction as they can."""
    q = connection.ops.quote_name
    table = q(ReceiptCounter._meta.db_table)
    municipality_id, year_, last = (q(ReceiptCounter._meta.get_field(f).column)
                                    for f in ("municipality", "year", "last"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({municipality_id}, {year_}, {last}) VALUES (%s, %s, 1) "
            f"ON CONFLICT ({municipality_id}, {year_}) DO UPDATE SET {last} = {table}.{last} + 1 RETURNING {last}",
            [municipality.pk, year])
        value = cursor.fetchone()[0]
    return f"{year}-{value:07d}"


def _masked(data: dict, numbers: dict) -> dict:
    data = copy.deepcopy(data)
    for pointer, value in numbers.items():
        defn.set_pointer(data, pointer, mynumber.mask(value))
    return data


def _aad(application, part: str) -> bytes:
    return f"madoguchi-application-v1|{application.municipality_id}|{application.public_id}|{part}".encode()


def _store(application, prepared: Prepared, signed: Signed | None, verification: dict, saved: list,
           keep_attachments: bool = False) -> None:
    _fill(application, prepared, signed, verification)
    application.snapshot_for_casework()  # department, applicant name and search columns (not the data)
    application.save()
    _store_parts(application, prepared, saved, keep_attachments=keep_attachments)


def _fill(application, prepared: Prepared, signed: Signed | None, verification: dict) -> None:
    """The row's own columns from a checked application (nothing written yet)."""
    assert application.municipality_id is not None  # the sealing binds to it
    application.data = _masked(prepared.data, prepared.numbers)
    application.document_sha256 = hashlib.sha256(prepared.document).hexdigest()
    if prepared.numbers:
        application.document_key_id, application.document = mynumber.seal(prepared.document, _aad(application, "document"))
    else:
        application.document_key_id, application.document = "", prepared.document
    application.signature = bytes(signed.cms) if signed else None
    application.verification = verification
    application.fee_yen = prepared.fee_yen


def _same_tenant(application) -> None:
    """What TenantOwned.save checks, for rows written by bulk_create (which does not call save())."""
    scope = current_municipality()
    if scope is None or scope.pk != application.municipality_id:
        raise CrossTenantWrite(f"rows of municipality {application.municipality_id} written in the scope of "
                               f"{scope.pk if scope else None}")


def _store_parts(application, prepared: Prepared, saved: list, *, keep_attachments: bool = False,
                 new: bool = False) -> None:
    """The sealed individual numbers (replaced; a `new` row has none to delete) and the
    attachments (unless kept) of a saved row."""
    _same_tenant(application)
    if not new:
        IndividualNumber.objects.filter(application=application).delete()
    numbers = []
    for pointer, value in prepared.numbers.items():
        kid, sealed = mynumber.seal(value.encode(), _aad(application, pointer))
        numbers.append(IndividualNumber(municipality_id=application.municipality_id, application=application,
                                        pointer=pointer, key_id=kid, sealed=sealed))
    if numbers:
        IndividualNumber.objects.bulk_create(numbers)
    for item in ([] if keep_attachments else prepared.attachments):
        name = default_storage.save(
            f"applications/{application.municipality.code}/{application.public_id}/{item['sha256']}",
            ContentFile(item["content"]))
        saved.append(name)
        Attachment.objects.create(application=application, name=item["name"], file=name, sha256=item["sha256"],
                                  size=item["size"], content_type=item["type"])


def _actor(role: str, actor) -> tuple:
    if role == Role.RESIDENT:
        return ("resident", str(actor.public_id)), str(actor.public_id)
    if role == Role.REVIEWER:
        return actor, str(actor.pk)
    return None, ""


@dataclass(frozen=True)
class _Step:
    """One transition to write: from, to, the acting role and actor, a comment, signed."""

    source: str
    target: str
    role: str
    actor: object = None
    comment: str = ""
    signed: bool = False


def _move(application, source: str, target: str, role: str, actor=None, comment: str = "", signed: bool = False):
    """Writes one transition: the status, the history, an audit event and a notice."""
    application.status = target
    application.save(update_fields=["status", "updated_at"])
    steps = [_Step(source, target, role, actor, comment, signed)]
    _history(application, steps)
    _audit(application, steps)


def _submission_steps(prepared: Prepared, person, signed: Signed | None) -> list[_Step]:
    """A submission's transitions: draft → submitted, then → payment required when a fee is due."""
    steps = [_Step(Status.DRAFT, Status.SUBMITTED, Role.RESIDENT, person, signed=signed is not None)]
    if prepared.fee_yen > 0:
        steps.append(_Step(Status.SUBMITTED, Status.PAYMENT_REQUIRED, Role.SYSTEM))
    return steps


def _history(application, steps: list[_Step], *, pending_attachments: bool | None = None) -> None:
    """The status history rows and the resident's notices of transitions (one INSERT each,
    however many), the document each issues (a task, committed with them) and the 無害化 of
    new attachments. The row's status is the caller's to save. `pending_attachments`: whether
    the caller knows the application has attachments waiting to be sanitised (None: look)."""
    _same_tenant(application)
    ApplicationEvent.objects.bulk_create([
        ApplicationEvent(municipality_id=application.municipality_id, application=application, from_status=s.source,
                         to_status=s.target, role=s.role, actor_id=_actor(s.role, s.actor)[1], comment=s.comment,
                         signed=s.signed) for s in steps])
    Notice.objects.bulk_create([Notice(municipality_id=application.municipality_id, person_id=application.person_id,
                                       application=application, kind=s.target) for s in steps])
    from madoguchi.documents.services import after_transition  # the receipt / decision document (issue 9)

    for s in steps:
        after_transition(application, s.target)
    if any(s.target in (Status.SUBMITTED, Status.RESUBMITTED) for s in steps):
        _queue_sanitisation(application, pending_attachments)


def _audit(application, steps: list[_Step]) -> None:
    """One audit event per transition (references only), appended under one lock of the
    chain's head: call it last in the transaction, so that lock is held the shortest."""
    record_many([dict(action=f"applications.{s.target}", actor=_actor(s.role, s.actor)[0], obj=application, data={
        "procedure": application.procedure.slug, "version": application.version.number,
        "receipt": application.receipt_number, "from": s.source, "to": s.target, "role": s.role, "signed": s.signed})
        for s in steps])


def _queue_sanitisation(application, pending: bool | None = None) -> None:
    """無害化 of new attachments by the Tasks worker, once the submission has committed."""
    if pending is None:
        pending = application.attachments.filter(sanitisation=Attachment.Sanitisation.PENDING).exists()
    if pending:
        from .tasks import sanitise_application_attachments

        ids = (application.municipality_id, application.pk)
        transaction.on_commit(lambda: sanitise_application_attachments.enqueue(*ids))


def submit(version: ProcedureVersion, person, data, *, idempotency_key: str, uploads=(), signed: Signed | None = None,
           today: dt.date | None = None, text_numbers: str | None = None) -> tuple[Application, bool]:
    """Submits an application; returns (application, created). The same idempotency key
    returns the first application (created False)."""
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApplicationError("invalid_idempotency_key", _("申請の識別子が正しくありません。"))
    nonce = _nonce_of(signed.document) if signed is not None else None
    prepared = prepare(version, person, data, uploads, today=today, nonce=nonce, text_numbers=text_numbers)
    municipality = version.municipality
    with tenant(municipality):
        replay = _replay(person, idempotency_key, prepared)
        if replay is not None:
            return replay, False
        verification = _check_signature(prepared, person, signed)
        steps = _submission_steps(prepared, person, signed)
        saved: list[str] = []
        try:
            with transaction.atomic():
                application = Application(
                    municipality=municipality, person=person, procedure=version.procedure, version=version,
                    status=steps[-1].target, idempotency_key=idempotency_key, dedup_key=prepared.dedup_key,
                    household_id=prepared.household_id, submitted_at=timezone.now(),
                )
                application.request_digest = _request_digest(prepared)
                _fill(application, prepared, signed, verification)
                # The row needs its 受付番号 to be inserted: the counter's lock is held from here.
                application.receipt_number = _next_receipt(municipality, today_in_japan().year)
                application.snapshot_for_casework()  # department, applicant name and search columns
                application.save()
                _store_parts(application, prepared, saved, new=True)
                # The attachments just stored are all waiting for 無害化.
                _history(application, steps, pending_attachments=bool(prepared.attachments))
                _audit(application, steps)
        except IntegrityError:
            delete_files(saved)
            replay = _replay(person, idempotency_key, prepared)
            if replay is not None:
                return replay, False
            if prepared.dedup_key and Application.objects.filter(
                    procedure=version.procedure, dedup_key=prepared.dedup_key, status__in=sorted(OPEN)).exists():
                raise ApplicationError("duplicate", _("この手続の申請は、すでに受付中のものがあります。"), status=409) from None
            raise
        except BaseException:
            delete_files(saved)
            raise
    return application, True


def _replay(person, key: str, prepared: Prepared):
    existing = Application.objects.filter(person=person, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_digest != _request_digest(prepared):
        raise ApplicationError("idempotency_conflict", _("同じ識別子で別の内容の申請が送られました。"), status=409)
    return existing


def transition(application: Application, target: str, *, role: str, actor=None, comment: str = "") -> Application:
    """A transition that carries no new data (review decisions, withdrawal, system steps)."""
    given = application
    with tenant(application.municipality), transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        move = check(application.status, target, role)
        if move.signs_again:
            raise TransitionRefused("needs_data", f"{target} carries the corrected application: use resubmit()")
        if role == Role.RESIDENT and (actor is None or actor.pk != application.person_id):
            raise TransitionRefused("not_yours", "only the applicant may do this")
        if role == Role.REVIEWER:
            _require_reviewer(application, actor)
        _move(application, move.source, target, role, actor, comment)
    given.status, given.updated_at = application.status, application.updated_at
    return application


def withdraw(application: Application, person) -> Application:
    return transition(application, Status.WITHDRAWN, role=Role.RESIDENT, actor=person)


def resubmit(application: Application, person, data, *, uploads=(), signed: Signed | None = None,
             today: dt.date | None = None, text_numbers: str | None = None) -> Application:
    """The resident's answer to a return for correction: new data, signed again when the
    procedure needs a signature."""
    with tenant(application.municipality):
        if application.person_id != person.pk:
            raise ApplicationError("not_found", _("この申請はありません。"), status=404)
        application = Application.objects.get(pk=application.pk)
        check(application.status, Status.RESUBMITTED, Role.RESIDENT)
        nonce = _nonce_of(signed.document) if signed is not None else None
        prepared = prepare(application.version, person, data, uploads, today=today, nonce=nonce, correction=True,
                           text_numbers=text_numbers)
        verification = _check_signature(prepared, person, signed)
        saved: list[str] = []
        try:
            with transaction.atomic():
                application = Application.objects.select_for_update().get(pk=application.pk)
                source = application.status
                check(source, Status.RESUBMITTED, Role.RESIDENT)
                application.attachments.all().delete()  # the corrected set replaces them (files stay until retention)
                _store(application, prepared, signed, verification, saved)
                _move(application, source, Status.RESUBMITTED, Role.RESIDENT, person, signed=signed is not None)
        except BaseException:
            delete_files(saved)
            raise
    return application


def _require_reviewer(application: Application, user) -> None:
    from madoguchi.staff.models import Membership

    membership = Membership.objects.filter(user=user).select_related("department").first() if user else None
    if membership is None or membership.role != Membership.Role.REVIEWER:
        raise PermissionDenied("a reviewer of this municipality")
    if membership.department is not None and membership.department.code != application.procedure.department_code:
        raise PermissionDenied("a reviewer of the owning department")
    if membership.department is None:
        raise PermissionDenied("a reviewer of the owning department")


def reveal(application: Application, pointer: str, user) -> str:
    """The individual number at `pointer`, for a reviewer of the owning department; every
    reveal is an audit event (without the number)."""
    with tenant(application.municipality), transaction.atomic():
        _require_reviewer(application, user)
        sealed = IndividualNumber.objects.filter(application=application, pointer=pointer).first()
        if sealed is None:
            raise ApplicationError("not_found", _("この項目に個人番号はありません。"), status=404)
        value = mynumber.unseal(sealed.key_id, sealed.sealed, _aad(application, pointer)).decode()
        record("applications.mynumber_revealed", actor=user, obj=application,
               data={"receipt": application.receipt_number, "pointer": pointer})
    return value


def signed_document(application: Application) -> bytes:
    """The exact bytes that were signed (opened when sealed): for staff views and exports
    of signed documents, never for ordinary serialisations."""
    document = bytes(application.document or b"")
    if application.document_key_id:
        return mynumber.unseal(application.document_key_id, document, _aad(application, "document"))
    return document


def serialize(application: Application) -> dict:
    """The ordinary serialisation (API, lists): masked data, never a number or the document."""
    return {
        "id": str(application.public_id), "receipt_number": application.receipt_number,
        "procedure": application.procedure.slug, "version": application.version.number,
        "status": application.status, "fee_yen": application.fee_yen, "data": application.data,
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "attachments": [{"name": a.name, "sha256": a.sha256, "size": a.size, "type": a.content_type,
                         "sanitisation": a.sanitisation} for a in application.attachments.all()],
        "signed": application.signature is not None,
    }


def export_row(application: Application) -> dict:
    """One row of an ordinary export, by the definition's column mapping (numbers are never mapped)."""
    row = {"受付番号": application.receipt_number, "状態": application.status}
    for column in application.version.definition.get("export", []):
        try:
            value = defn.get_pointer(application.data, column["pointer"])
        except (KeyError, IndexError, ValueError, TypeError):
            value = ""
        row[column["column"]] = value if isinstance(value, str | int) else json.dumps(value, ensure_ascii=False)
    return row


__all__ = ["ApplicationError", "Upload", "Signed", "prepare", "prefill", "submit", "transition", "withdraw",
           "resubmit", "reveal", "serialize", "export_row", "signed_document", "FINAL", "find"]


# ---------------------------------------------------------------------------------------
# Drafts (the resident pages): checked data kept sealed between the form, the review page
# and the signature; submitted from exactly the bytes shown and signed.


def save_draft(version: ProcedureVersion, person, data, uploads=None, *, draft: Application | None = None,
               today: dt.date | None = None, corrects: Application | None = None,
               partial: bool = False, text_numbers: str | None = None) -> Application:
    """Checks the data and keeps it as a draft (numbers sealed, the document sealed when it
    holds them). `uploads` None keeps the draft's attachments; a list replaces them."""
    keep = uploads is None and draft is not None
    if uploads is None:
        uploads = draft_uploads(draft) if draft is not None else []
    prepared = prepare(version, person, data, uploads, today=today, correction=corrects is not None,
                       partial=partial, text_numbers=text_numbers)
    saved: list[str] = []
    replaced: list[str] = []
    try:
        with tenant(version.municipality), transaction.atomic():
            if draft is not None:
                draft = Application.objects.select_for_update().get(pk=draft.pk, person=person, status=Status.DRAFT)
                if not keep:
                    replaced = [a.file.name for a in draft.attachments.all()]
                    draft.attachments.all().delete()
            else:
                draft = Application(municipality=version.municipality, person=person, procedure=version.procedure,
                                    version=version, status=Status.DRAFT, corrects=corrects,
                                    idempotency_key=base64.urlsafe_b64encode(os.urandom(24)).decode())
            draft.request_digest = _request_digest(prepared)
            _store(draft, prepared, None, {}, saved, keep_attachments=keep)
    except BaseException:
        delete_files(saved)
        raise
    delete_files(replaced)
    return draft


def draft_uploads(application: Application) -> list[Upload]:
    """The stored attachments, read back (re-hashed and re-sniffed by prepare())."""
    uploads = []
    for attachment in application.attachments.order_by("id"):
        with default_storage.open(attachment.file.name) as stored:
            uploads.append(Upload(attachment.name, stored.read()))
    return uploads


def draft_data(draft: Application) -> dict:
    """The draft's data with its individual numbers (for re-editing the form)."""
    return json.loads(signed_document(draft))["data"]


def _share_relations(application: Application, person=None, like: Application | None = None) -> Application:
    """Fills the related-object caches of `application` from objects already in hand (the
    same rows by id), so the checks and the writes below do not read them again: `like`'s
    (an earlier copy of the same row), the person's, and the version's own procedure and
    municipality from the application's."""
    def cached(obj, name):
        if obj is None:
            return None
        f = obj._meta.get_field(name)
        return f.get_cached_value(obj) if f.is_cached(obj) else None

    for name in ("municipality", "version", "procedure", "person"):
        f = Application._meta.get_field(name)
        found = cached(like, name)
        if found is None and name == "person" and person is not None:
            found = person
        if found is not None and not f.is_cached(application) and found.pk == getattr(application, f.attname):
            f.set_cached_value(application, found)
    version = cached(application, "version")
    if version is not None:
        for name in ("procedure", "municipality"):
            found, f = cached(application, name), version._meta.get_field(name)
            if found is not None and not f.is_cached(version) and found.pk == getattr(version, f.attname):
                f.set_cached_value(version, found)
    return application


def submit_draft(draft: Application, person, *, signed: Signed | None = None,
                 today: dt.date | None = None, idempotency_key: str | None = None,
                 _key_checked: bool = False, _fresh: bool = False) -> tuple[Application, bool]:
    """Submits a draft from its own document; a repeated call returns the submitted
    application (created False). An `idempotency_key` (the API's) becomes the
    application's: the same key on another application is a conflict. `_fresh`: the
    caller read `draft` in this request with its version, procedure and municipality
    (it is read again, locked, before anything is written)."""
    if idempotency_key is not None and (not isinstance(idempotency_key, str)
                                        or not IDEMPOTENCY_KEY.match(idempotency_key)):
        raise ApplicationError("invalid_idempotency_key", _("申請の識別子が正しくありません。"))
    with tenant(draft.municipality):
        if not _fresh:
            draft = Application.objects.select_related("municipality", "version__procedure").get(pk=draft.pk)
        if draft.person_id != person.pk:
            raise ApplicationError("not_found", _("この申請はありません。"), status=404)
        _share_relations(draft, person)
        if idempotency_key is not None and not _key_checked:
            _key_conflict(person, idempotency_key, draft)
        if draft.status != Status.DRAFT:
            if draft.submitted_at is not None:
                return draft, False
            raise ApplicationError("not_draft", _("この申請は提出できません。"), status=409)
        document = signed_document(draft)
        parsed = json.loads(document)
        prepared = prepare(draft.version, person, parsed["data"], draft_uploads(draft), today=today,
                           nonce=parsed["nonce"], text_numbers=_confirmed(parsed))
        if prepared.document != document:
            raise ApplicationError("changed", _("申請内容を確認し直してください。"), status=409)
        verification = _check_signature(prepared, person, signed)
        steps = _submission_steps(prepared, person, signed)
        try:
            with transaction.atomic():
                read = draft
                draft = _share_relations(Application.objects.select_for_update().get(pk=draft.pk), person, like=read)
                if draft.status != Status.DRAFT:
                    return draft, False
                if draft.document_sha256 != hashlib.sha256(document).hexdigest():
                    # Saved again since it was read and checked: what was signed is not the draft now.
                    raise ApplicationError("changed", _("申請内容を確認し直してください。"), status=409)
                draft.dedup_key, draft.household_id = prepared.dedup_key, prepared.household_id
                if idempotency_key is not None:
                    draft.idempotency_key = idempotency_key
                draft.submitted_at = timezone.now()
                _fill(draft, prepared, signed, verification)
                # The draft's sealed individual numbers and its attachments stay as they are:
                # its document (which holds both) is byte for byte the one checked and signed.
                _history(draft, steps, pending_attachments=None if prepared.attachments else False)
                draft.status = steps[-1].target
                # The two per-municipality locks (the 受付番号 counter, then the audit chain's
                # head) are taken last: every submission of the municipality waits on them.
                draft.receipt_number = _next_receipt(draft.municipality, today_in_japan().year)
                draft.snapshot_for_casework()  # department, applicant name and search columns (not the data)
                draft.save()
                _audit(draft, steps)
        except IntegrityError:
            if idempotency_key is not None:
                _key_conflict(person, idempotency_key, draft)
            raise ApplicationError("duplicate", _("この手続の申請は、すでに受付中のものがあります。"), status=409) from None
    return draft, True


def _key_conflict(person, key: str, application: Application) -> None:
    holder = Application.objects.filter(person=person, idempotency_key=key).exclude(pk=application.pk)
    if holder.exists():
        raise ApplicationError("idempotency_conflict", _("同じ識別子で別の内容の申請が送られました。"), status=409)


def correction_draft(application: Application):
    return Application.objects.filter(corrects=application, status=Status.DRAFT).first()


def save_correction(application: Application, person, data, uploads=None, *,
                    text_numbers: str | None = None) -> Application:
    """The corrected data of a returned application, kept sealed while the resident signs it."""
    with tenant(application.municipality):
        application = Application.objects.get(pk=application.pk, person=person)
        check(application.status, Status.RESUBMITTED, Role.RESIDENT)
        existing = correction_draft(application)
        if uploads is None and existing is None:
            uploads = draft_uploads(application)
        return save_draft(application.version, person, data, uploads, draft=existing, corrects=application,
                          text_numbers=text_numbers)


def resubmit_correction(application: Application, person, *, signed: Signed | None = None) -> Application:
    """Resubmits the signed correction draft into the application, then discards the draft."""
    with tenant(application.municipality):
        draft = correction_draft(application)
        if draft is None or draft.person_id != person.pk:
            raise ApplicationError("not_found", _("この申請はありません。"), status=404)
        document = signed_document(draft)
        uploads = draft_uploads(draft)
        parsed = json.loads(document)
        application = resubmit(application, person, parsed["data"], uploads=uploads, signed=signed,
                               text_numbers=_confirmed(parsed))
        files = [a.file.name for a in draft.attachments.all()]
        draft.delete()
        delete_files(files)
    return application


# ---------------------------------------------------------------------------------------
# The JSON API (api.py, docs/applications.md): the same flow as the pages, by public ids.


def catalog(query: str = "") -> list[ProcedureVersion]:
    """The current published version of each procedure of the municipality in scope (one
    query), filtered by a search over titles, description and keywords."""
    query = (query or "").strip().lower()[:100]
    found, seen = [], set()
    for version in (ProcedureVersion.objects.filter(status=ProcedureVersion.Status.PUBLISHED)
                    .select_related("procedure").order_by("procedure__slug", "-number")):
        if version.procedure_id in seen:
            continue
        seen.add(version.procedure_id)
        d = version.definition
        haystack = " ".join([d["title"]["ja"], d["title"]["en"], d.get("description", {}).get("ja", ""),
                             d.get("description", {}).get("en", ""), *d.get("keywords", [])]).lower()
        if not query or query in haystack:
            found.append(version)
    return found


def published(slug) -> ProcedureVersion:
    """The current published version of a procedure of the municipality in scope."""
    from madoguchi.procedures.models import Procedure

    # The definitions' slug pattern (metaschema.json): anything else names no procedure (and a
    # NUL would be an error of PostgreSQL's, not a 404).
    ok = isinstance(slug, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]{1,62}", slug) is not None
    procedure = Procedure.objects.filter(slug=slug).first() if ok else None
    version = procedure.current_version() if procedure is not None else None
    if version is None:
        raise ApplicationError("not_found", _("この手続はありません。"), status=404)
    return version


def own(person, public_id, *, draft: bool | None = None) -> Application:
    """The person's own application (or draft) by its public id; anything else — another
    resident's, another municipality's, a malformed id — is the same 404."""
    import uuid

    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        public_id = None
    application = (Application.objects.filter(public_id=public_id, person=person)
                   .select_related("version", "procedure", "municipality")
                   .first() if public_id is not None else None)
    if application is None or (draft is True and application.status != Status.DRAFT) \
            or (draft is False and application.status == Status.DRAFT):
        raise ApplicationError("not_found", _("この申請はありません。"), status=404)
    return application


def delete_draft(draft: Application, person) -> None:
    """Discards a draft (and its files); an audit event records it."""
    with tenant(draft.municipality):
        with transaction.atomic():
            draft = Application.objects.select_for_update().filter(pk=draft.pk, person=person,
                                                                   status=Status.DRAFT).first()
            if draft is None:
                raise ApplicationError("not_found", _("この申請はありません。"), status=404)
            files = [a.file.name for a in draft.attachments.all()]
            record("applications.draft_deleted", actor=("resident", str(person.public_id)), obj=draft,
                   data={"procedure": draft.procedure.slug, "version": draft.version.number})
            draft.delete()
        delete_files(files)


def add_attachment(draft: Application, person, upload: Upload) -> Application:
    """One more file on a draft: the whole draft is checked again (count, size, type)."""
    uploads = draft_uploads(draft) + [upload]
    document = json.loads(signed_document(draft))
    return save_draft(draft.version, person, document["data"], uploads, draft=draft, corrects=draft.corrects,
                      partial=True, text_numbers=_confirmed(document))


def remove_attachment(draft: Application, person, attachment_id) -> Application:
    if not draft.attachments.filter(pk=attachment_id if isinstance(attachment_id, int) else None).exists():
        raise ApplicationError("not_found", _("この添付ファイルはありません。"), status=404)
    ids = list(draft.attachments.order_by("id").values_list("pk", flat=True))
    uploads = [u for pk, u in zip(ids, draft_uploads(draft), strict=True) if pk != attachment_id]
    document = json.loads(signed_document(draft))
    return save_draft(draft.version, person, document["data"], uploads, draft=draft, corrects=draft.corrects,
                      partial=True, text_numbers=_confirmed(document))


def prepare_draft(draft: Application, person) -> Prepared:
    """The draft checked again, as it would be submitted: its canonical document (the bytes
    to sign), their digest and the fee. A draft whose check now gives other bytes (the
    household changed, the procedure closed) must be saved again."""
    with tenant(draft.municipality):
        document = signed_document(draft)
        parsed = json.loads(document)
        prepared = prepare(draft.version, person, parsed["data"], draft_uploads(draft), nonce=parsed["nonce"],
                           correction=draft.corrects_id is not None, text_numbers=_confirmed(parsed))
        if prepared.document != document:
            raise ApplicationError("changed", _("申請内容を確認し直してください。"), status=409)
    return prepared


def open_signature(draft: Application, person):
    """Opens the `sign` ceremony over a draft's document (its digest only when it holds
    individual numbers, which never leave the sealed draft). Returns (ceremony, poll token)."""
    from madoguchi.ceremonies import services as ceremonies

    if draft.version.definition["assurance"] != "signature":
        raise ApplicationError("signature_not_needed", _("この手続に電子署名は必要ありません。"), status=409)
    prepared = prepare_draft(draft, person)
    municipality = draft.municipality
    content = ({"document_sha256": draft.document_sha256} if draft.document_key_id
               else {"document": prepared.document})
    title = draft.version.definition["title"]["ja"]
    with tenant(municipality):
        return ceremonies.open_ceremony("sign", audience=f"{municipality.code}:portal",
                                        requester=f"{municipality.name} オンライン窓口"[:200], reason=title[:200],
                                        **content)


def _signed_by_ceremony(draft: Application, ceremony_id, poll_token) -> Signed:
    """The CMS of the completed `sign` ceremony over the draft, taken once with the opener's
    poll token (the ceremony is consumed)."""
    from madoguchi.ceremonies import services as ceremonies

    if not isinstance(ceremony_id, str) or not isinstance(poll_token, str):
        raise ApplicationError("signature_required", _("この手続には電子署名が必要です。"),
                               {"/ceremony_id": [_("署名の手続きを指定してください。")]})
    ceremony = ceremonies.take_result(ceremony_id, poll_token)
    document = signed_document(draft)
    if ceremony.purpose != "sign" or ceremony.document_sha256 != hashlib.sha256(document).hexdigest():
        raise ApplicationError("signature_mismatch", _("署名された内容が申請内容と一致しません。"))
    return Signed(document=document, cms=bytes(ceremony.signature), ceremony=ceremony)


def submit_draft_signed(draft: Application, person, *, idempotency_key, ceremony_id=None,
                        poll_token=None) -> tuple[Application, bool]:
    """The API's submission of a draft: a replay (same key, or the draft already submitted)
    returns the application before anything else; a procedure that needs a signature takes
    the CMS of its completed `sign` ceremony."""
    if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.match(idempotency_key):
        raise ApplicationError("invalid_idempotency_key", _("申請の識別子が正しくありません。"),
                               {"/idempotency_key": [_("16〜64文字の英数字、-、_ で指定してください。")]})
    with tenant(draft.municipality):
        _key_conflict(person, idempotency_key, draft)
        if draft.status != Status.DRAFT:
            return submit_draft(draft, person, idempotency_key=idempotency_key)
        signed = None
        if draft.version.definition["assurance"] == "signature":
            signed = _signed_by_ceremony(draft, ceremony_id, poll_token)
        return submit_draft(draft, person, signed=signed, idempotency_key=idempotency_key, _key_checked=True,
                            _fresh=True)


def resubmit_correction_signed(application: Application, person, *, ceremony_id=None,
                               poll_token=None) -> Application:
    """The API's resubmission of a returned application from its correction draft."""
    with tenant(application.municipality):
        check(application.status, Status.RESUBMITTED, Role.RESIDENT)
        draft = correction_draft(application)
        if draft is None or draft.person_id != person.pk:
            raise ApplicationError("no_correction", _("補正の内容がまだ保存されていません。"), status=409)
        signed = None
        if application.version.definition["assurance"] == "signature":
            signed = _signed_by_ceremony(draft, ceremony_id, poll_token)
        return resubmit_correction(application, person, signed=signed)


def notices_of(person):
    return Notice.objects.filter(person=person).select_related("application").order_by("-created_at", "-id")


def mark_notice_read(person, notice_id) -> Notice:
    with transaction.atomic():
        notice = (Notice.objects.select_for_update().filter(pk=notice_id, person=person).first()
                  if isinstance(notice_id, int) else None)
        if notice is None:
            raise ApplicationError("not_found", _("このお知らせはありません。"), status=404)
        if notice.read_at is None:
            notice.read_at = timezone.now()
            notice.save(update_fields=["read_at"])
            record("applications.notice_read", actor=("resident", str(person.public_id)), obj=notice,
                   data={"kind": notice.kind})
    return notice


def return_comment(application: Application) -> str:
    return (application.events.filter(to_status=Status.RETURNED).order_by("-at", "-id")
            .values_list("comment", flat=True).first() or "")
