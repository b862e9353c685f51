"""Submitting an application (directly or from a draft). Duplicates are refused by database
constraints, not by reading first: the idempotency key (a double tap or a retry returns
the first application) and one open application per person or household and procedure.
"""

import datetime as dt
import hashlib
import json

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core.dates import today_in_japan
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import ProcedureVersion

from ..attachments import delete_files
from ..models import Application, ReceiptCounter
from ..statemachine import OPEN, Role, Status
from ..transitions import Transition
from .common import (
    ApplicationError, IDEMPOTENCY_KEY, Prepared, Signed, _audit, _confirmed, _fill, _history,
    _key_conflict, _nonce_of, _request_digest, _share_relations, _store_parts, draft_uploads, signed_document,
)
from .preparation import prepare
from .signing import _check_signature, _signed_by_ceremony, check_counter_signature


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


def _submission_steps(prepared: Prepared, person, signed: Signed | None) -> list[Transition]:
    """A submission's transitions: draft → submitted, then → payment required when a fee is due."""
    steps = [Transition(None, Status.DRAFT, Status.SUBMITTED, Role.RESIDENT, person, signed=signed is not None)]
    if prepared.fee_yen > 0:
        steps.append(Transition(None, Status.SUBMITTED, Status.PAYMENT_REQUIRED, Role.SYSTEM))
    return steps


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
                raise ApplicationError("duplicate", _("この手続きの申請は、すでに受付中のものがあります。"), status=409) from None
            raise
        except BaseException:
            delete_files(saved)
            raise
    return application, True


def submit_at_counter(items, person, staff, *, key: str, today: dt.date | None = None,
                      signer=None) -> list[Application]:
    """Files the procedures of one counter visit (書かない窓口): `items` are (version, data) or
    (version, data, signed, nonce) tuples, all checked first, then stored **in one transaction
    or none**. Each is flagged `channel="counter"` with the member of staff who served
    (`served_by`). The resident checked the forms on the counter's second screen and either
    signed one with the card (`signed`: the `sign` ceremony's CMS over the document built
    with `nonce`, checked by `check_counter_signature` against `signer`, the identity.FourFacts
    the card read proved) or signs the printed form by hand (no electronic signature). `key`
    (the visit's id) makes each application's idempotency key: a visit is never filed twice."""
    checked = []
    for item in items:
        version, data, signed, nonce = (tuple(item) + (None, None))[:4]
        prepared = prepare(version, person, data, today=today, nonce=nonce)
        verification = {}
        if signed is not None:
            if signer is None:
                raise ApplicationError("wrong_signer", _("申請者本人の電子署名ではありません。"), status=403)
            verification = check_counter_signature(prepared, signed, signer)
        checked.append((prepared, signed, verification))
    if not checked:
        raise ApplicationError("invalid", _("手続きが選ばれていません。"))
    municipality = checked[0][0].version.municipality
    applications = []
    with tenant(municipality):
        try:
            with transaction.atomic():
                for i, (prepared, signed, verification) in enumerate(checked):
                    steps = _submission_steps(prepared, person, signed)
                    application = Application(
                        municipality=municipality, person=person, procedure=prepared.version.procedure,
                        version=prepared.version, status=steps[-1].target,
                        idempotency_key=f"counter-{key}-{i}"[:64], dedup_key=prepared.dedup_key,
                        household_id=prepared.household_id, submitted_at=timezone.now(),
                        channel="counter", served_by=staff)
                    application.request_digest = _request_digest(prepared)
                    _fill(application, prepared, signed, verification)
                    application.receipt_number = _next_receipt(municipality, today_in_japan().year)
                    application.snapshot_for_casework()
                    application.save()
                    _store_parts(application, prepared, [], new=True)
                    _history(application, steps, pending_attachments=False)
                    _audit(application, steps)
                    applications.append(application)
        except IntegrityError:
            raise ApplicationError("duplicate", _("この手続きの申請は、すでに受付中のものがあります。"), status=409) from None
    return applications


def _replay(person, key: str, prepared: Prepared):
    existing = Application.objects.filter(person=person, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_digest != _request_digest(prepared):
        raise ApplicationError("idempotency_conflict", _("同じ識別子で別の内容の申請が送られました。"), status=409)
    return existing


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
            raise ApplicationError("duplicate", _("この手続きの申請は、すでに受付中のものがあります。"), status=409) from None
    return draft, True


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
        # The ceremony is consumed in the submission's own transaction: a server that dies (or a
        # submission that fails) between the two leaves the ceremony completed and the draft a
        # draft, so the client's retry with the same key submits (tests/topology), instead of
        # "already used" and a resident asked to sign again.
        with transaction.atomic():
            signed = None
            if draft.version.definition["assurance"] == "signature":
                signed = _signed_by_ceremony(draft, ceremony_id, poll_token)
            return submit_draft(draft, person, signed=signed, idempotency_key=idempotency_key, _key_checked=True,
                                _fresh=True)
