"""What the drafts, submission and lifecycle modules share: the refusal, the checked
application, and writing an application's parts, its history and its audit events.

Everything an application is made of (the row, its sealed individual numbers, its
attachments, its first status events, notices and audit events) is written in one
transaction: a failure at any point leaves the whole application or nothing.
"""

import copy
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field, replace

import rfc8785
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record_many
from madoguchi.core import metrics
from madoguchi.municipalities.tenancy import CrossTenantWrite, current_municipality
from madoguchi.procedures import definition as defn
from madoguchi.procedures.models import ProcedureVersion

from .. import mynumber
from ..models import Application, ApplicationEvent, Attachment, IndividualNumber
from ..statemachine import Role, Status
from ..transitions import Transition, publish


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


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
    """A `sign` ceremony's result: the bytes it signed and the CMS (and, when this request
    took it from its ceremony, the ceremonies.callers.Result, so the check against the
    stored verification record need not read it again)."""

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


def _request_digest(prepared: Prepared) -> str:
    """Keyed (not a plain hash: the data may hold an individual number)."""
    body = rfc8785.dumps({"version": prepared.version.pk, "data": prepared.data,
                          "attachments": [a["sha256"] for a in prepared.attachments]})
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()


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


def _move(application, source: str, target: str, role: str, actor=None, comment: str = "", signed: bool = False,
          payment: dict | None = None):
    """Writes one transition: the status, the history, an audit event and a notice."""
    application.status = target
    application.save(update_fields=["status", "updated_at"])
    steps = [Transition(application, source, target, role, actor, comment, signed, payment)]
    _history(application, steps)
    _audit(application, steps)


def _history(application, steps: list[Transition], *, pending_attachments: bool | None = None) -> None:
    """The status history rows (one INSERT however many), the transitions published to
    their listeners (transitions.py: the resident's notices, the document each issues) and
    the 無害化 of new attachments. The row's status is the caller's to save.
    `pending_attachments`: whether the caller knows the application has attachments waiting
    to be sanitised (None: look)."""
    _same_tenant(application)
    ApplicationEvent.objects.bulk_create([
        ApplicationEvent(municipality_id=application.municipality_id, application=application, from_status=s.source,
                         to_status=s.target, role=s.role, actor_id=_actor(s.role, s.actor)[1], comment=s.comment,
                         signed=s.signed) for s in steps])
    publish([replace(s, application=application) for s in steps])  # a submission's were made before its row
    if any(s.target in (Status.SUBMITTED, Status.RESUBMITTED) for s in steps):
        _queue_sanitisation(application, pending_attachments)
        for s in steps:
            if s.target in (Status.SUBMITTED, Status.RESUBMITTED):
                counter = metrics.SUBMISSIONS.labels(s.target, "yes" if s.signed else "no")
                transaction.on_commit(counter.inc)


def _audit(application, steps: list[Transition]) -> None:
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
        from ..tasks import sanitise_application_attachments

        ids = (application.municipality_id, application.pk)
        transaction.on_commit(lambda: sanitise_application_attachments.enqueue(*ids))


def _require_reviewer(application: Application, user) -> None:
    from madoguchi.staff.models import Membership

    membership = Membership.objects.filter(user=user).select_related("department").first() if user else None
    if membership is None or membership.role != Membership.Role.REVIEWER:
        raise PermissionDenied("a reviewer of this municipality")
    if membership.department is not None and membership.department.code != application.procedure.department_code:
        raise PermissionDenied("a reviewer of the owning department")
    if membership.department is None:
        raise PermissionDenied("a reviewer of the owning department")


def signed_document(application: Application) -> bytes:
    """The exact bytes that were signed (opened when sealed): for staff views and exports
    of signed documents, never for ordinary serialisations."""
    document = bytes(application.document or b"")
    if application.document_key_id:
        return mynumber.unseal(application.document_key_id, document, _aad(application, "document"))
    return document


def draft_uploads(application: Application) -> list[Upload]:
    """The stored attachments, read back (re-hashed and re-sniffed by prepare())."""
    uploads = []
    for attachment in application.attachments.order_by("id"):
        with default_storage.open(attachment.file.name) as stored:
            uploads.append(Upload(attachment.name, stored.read()))
    return uploads


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


def _key_conflict(person, key: str, application: Application) -> None:
    holder = Application.objects.filter(person=person, idempotency_key=key).exclude(pk=application.pk)
    if holder.exists():
        raise ApplicationError("idempotency_conflict", _("同じ識別子で別の内容の申請が送られました。"), status=409)


def correction_draft(application: Application):
    return Application.objects.filter(corrects=application, status=Status.DRAFT).first()
