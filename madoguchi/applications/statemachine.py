"""The one state machine of an application, used by the resident pages and the back office.

Every transition names the roles that may make it and whether it carries the resident's
signature again (for a procedure that needs a signature). docs/applications.md shows the
same table; tests/applications/test_statemachine.py checks they agree.
"""

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    DRAFT = "draft", _("下書き")
    SUBMITTED = "submitted", _("申請済み")
    PAYMENT_REQUIRED = "payment_required", _("支払い待ち")
    RECEIVED = "received", _("受付済み")
    RETURNED = "returned", _("補正依頼")
    RESUBMITTED = "resubmitted", _("再申請済み")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("却下")
    COMPLETED = "completed", _("完了")
    WITHDRAWN = "withdrawn", _("取下げ")


class Role(models.TextChoices):
    RESIDENT = "resident", _("申請者")
    REVIEWER = "reviewer", _("審査担当")
    SYSTEM = "system", _("システム")


# Open applications count for the one-open-application rule ("payment required" is open).
OPEN = frozenset({Status.SUBMITTED, Status.PAYMENT_REQUIRED, Status.RECEIVED, Status.RETURNED,
                  Status.RESUBMITTED, Status.APPROVED})
FINAL = frozenset({Status.REJECTED, Status.COMPLETED, Status.WITHDRAWN})


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    roles: frozenset
    signs_again: bool  # the resident signs (again) when the procedure needs a signature
    note: str


def _t(source, target, roles, signs_again, note):
    return Transition(Status(source), Status(target), frozenset(Role(r) for r in roles), signs_again, note)


TRANSITIONS = (
    _t("draft", "submitted", ["resident"], True, "the resident submits (signed when the procedure needs it)"),
    _t("draft", "withdrawn", ["resident"], False, "the resident discards a draft"),
    _t("submitted", "payment_required", ["system", "reviewer"], False,
       "the procedure has a fee: it waits for the payment (reviewer: a claimed fee exemption not accepted)"),
    _t("submitted", "received", ["reviewer", "system"], False, "the department accepts it for review"),
    _t("submitted", "withdrawn", ["resident"], False, "withdrawn before review"),
    _t("payment_required", "received", ["system"], False, "the fee is paid (payments: in the payment's transaction)"),
    _t("payment_required", "withdrawn", ["resident"], False, "withdrawn before paying"),
    _t("received", "returned", ["reviewer"], False, "returned to the resident for correction"),
    _t("received", "approved", ["reviewer"], False, "approved"),
    _t("received", "rejected", ["reviewer"], False, "rejected, with a reason"),
    _t("returned", "resubmitted", ["resident"], True, "the corrected application (signed again when needed)"),
    _t("returned", "withdrawn", ["resident"], False, "withdrawn instead of corrected"),
    _t("resubmitted", "received", ["reviewer", "system"], False, "accepted again for review"),
    _t("approved", "completed", ["reviewer", "system"], False, "done: certificate sent, record changed…"),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


class TransitionRefused(ValueError):
    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


def find(source: str, target: str) -> Transition | None:
    return _BY_PAIR.get((source, target))


def allowed_targets(source: str, role: str) -> list[str]:
    return [t.target for t in TRANSITIONS if t.source == source and role in t.roles]


def check(source: str, target: str, role: str) -> Transition:
    transition = find(source, target)
    if transition is None:
        raise TransitionRefused("invalid_transition", f"no transition from {source} to {target}")
    if role not in transition.roles:
        raise TransitionRefused("role_not_allowed", f"{role} may not move an application from {source} to {target}")
    return transition
