"""The text of a resident's notice, rendered from references (nothing personal is stored)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .statemachine import Status

TEXTS = {
    Status.SUBMITTED: gettext_noop("申請を受け付けました（受付番号 %(receipt)s）。"),
    Status.PAYMENT_REQUIRED: gettext_noop("手数料 %(fee)s円のお支払いをお待ちしています（受付番号 %(receipt)s）。"),
    Status.RECEIVED: gettext_noop("担当課が申請の審査を始めました（受付番号 %(receipt)s）。"),
    Status.RETURNED: gettext_noop("申請内容の補正をお願いします（受付番号 %(receipt)s）。"),
    Status.RESUBMITTED: gettext_noop("補正した申請を受け付けました（受付番号 %(receipt)s）。"),
    Status.APPROVED: gettext_noop("申請が承認されました（受付番号 %(receipt)s）。"),
    Status.REJECTED: gettext_noop("申請は却下されました（受付番号 %(receipt)s）。"),
    Status.COMPLETED: gettext_noop("手続が完了しました（受付番号 %(receipt)s）。"),
    Status.WITHDRAWN: gettext_noop("申請を取り下げました（受付番号 %(receipt)s）。"),
}


def text(notice) -> str:
    application = notice.application
    template = TEXTS.get(notice.kind)
    if application is None or template is None:
        return _("お知らせがあります。")
    return _(template) % {"receipt": application.receipt_number or "-", "fee": f"{application.fee_yen:,}"}


def notify(transitions) -> None:
    """The transition listener of notices (transitions.py): one notice per transition for
    the applicant, all in one INSERT, inside the transition's transaction."""
    from .models import Notice

    Notice.objects.bulk_create([Notice(municipality_id=t.application.municipality_id,
                                       person_id=t.application.person_id, application=t.application, kind=t.target)
                                for t in transitions])
