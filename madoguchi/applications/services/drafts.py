"""Drafts (the resident pages and the API): checked data kept sealed between the form, the
review page and the signature; submitted from exactly the bytes shown and signed.
"""

import base64
import datetime as dt
import json
import os

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.ceremonies import callers as ceremonies
from madoguchi.municipalities.tenancy import tenant
from madoguchi.procedures.models import ProcedureVersion

from ..attachments import delete_files
from ..models import Application
from ..statemachine import Status
from .common import (
    ApplicationError, Prepared, Upload, _confirmed, _request_digest, _store, draft_uploads, signed_document,
)
from .preparation import prepare
from .signing import signature_content


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


def draft_data(draft: Application) -> dict:
    """The draft's data with its individual numbers (for re-editing the form)."""
    return json.loads(signed_document(draft))["data"]


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
    individual numbers, which never leave the sealed draft). Returns ceremonies.callers.Opened."""
    if draft.version.definition["assurance"] != "signature":
        raise ApplicationError("signature_not_needed", _("この手続きに電子署名は必要ありません。"), status=409)
    prepared = prepare_draft(draft, person)
    return ceremonies.open("sign", municipality=draft.municipality, reason=draft.version.definition["title"]["ja"],
                           require_card=bool(draft.version.definition.get("require_card")),
                           **signature_content(draft, prepared.document))
