"""An application after its submission: transitions without new data (review decisions,
withdrawal, system steps) and the resident's corrections of a returned application.
"""

import datetime as dt
import json

from django.db import transaction
from django.utils.translation import gettext as _

from madoguchi.municipalities.tenancy import tenant

from ..attachments import delete_files
from ..models import Application
from ..statemachine import Role, Status, TransitionRefused, check
from .common import (
    ApplicationError, Signed, _confirmed, _move, _nonce_of, _require_reviewer, _store, correction_draft,
    draft_uploads, signed_document,
)
from .drafts import save_draft
from .preparation import prepare
from .signing import _check_signature, _signed_by_ceremony


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
        if role == Role.REVIEWER and target == Status.PAYMENT_REQUIRED:
            _exemption_not_accepted(application)
        _move(application, move.source, target, role, actor, comment)
    given.status, given.updated_at = application.status, application.updated_at
    return application


def _exemption_not_accepted(application: Application) -> None:
    """手数料免除 rule: an application whose resident claimed a fee exemption (the definition's
    `fee.exemption`) is submitted without a fee (no 支払い待ち) and checked by staff; a
    reviewer who does not accept the claim moves it submitted → payment_required, and the
    fee becomes the fee before the exemption. Refused for an application with no claim."""
    from madoguchi.procedures import definition as defn

    definition = application.version.definition
    if not defn.exemption_claimed(definition, application.data):
        raise TransitionRefused("no_exemption", "only an application with a claimed fee exemption goes back to payment")
    application.fee_yen = defn.gross_fee_yen(definition, application.data)
    if application.fee_yen <= 0:
        raise TransitionRefused("no_fee", "the application has no fee to pay")
    application.save(update_fields=["fee_yen"])


def payment_received(application: Application, payment: dict | None = None) -> Application:
    """The fee is paid: 支払い待ち → 受付 (received), by the system. The payments app calls it
    inside the transaction that records the payment's success, so both commit or neither
    does (the payment's own events and audit name the application). Refuses
    (TransitionRefused) an application that is not waiting for its payment. `payment`: the
    payment's facts (JSON: id, amount_yen, provider, method, till_receipt, paid_at), carried
    by the published transition to its listeners (documents issues the 領収書 from them)."""
    given = application
    with tenant(application.municipality), transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        move = check(application.status, Status.RECEIVED, Role.SYSTEM)
        _move(application, move.source, Status.RECEIVED, Role.SYSTEM, payment=payment)
    given.status, given.updated_at = application.status, application.updated_at
    return application


def notify_refunded(application: Application) -> None:
    """The payments app's seam for a refund of the application's fee: the resident's notice
    (kind `refunded`, references only) through the notice channels, inside the caller's
    transaction. Not a transition: the application's status is unchanged and the other
    transition listeners (documents) are not called."""
    from .. import notices
    from ..transitions import Transition

    notices.notify([Transition(application=application, source=application.status, target="refunded",
                               role=Role.SYSTEM)])


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
