"""Notices: the resident is told of each transition of their application, through the
notice channels (base.py) that settings.NOTICE_CHANNELS names; the text of a notice is
rendered from references (nothing personal is stored)."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from madoguchi.registry import UnknownName

from ..statemachine import Status
from . import inbox  # noqa: F401  (registers the inbox channel)
from .base import CHANNELS, Channel

TEXTS = {
    Status.SUBMITTED: gettext_noop("申請を受け付けました（受付番号 %(receipt)s）。"),
    Status.PAYMENT_REQUIRED: gettext_noop("手数料 %(fee)s円のお支払いをお待ちしています（受付番号 %(receipt)s）。"),
    Status.RECEIVED: gettext_noop("担当課が申請の審査を始めました（受付番号 %(receipt)s）。"),
    Status.RETURNED: gettext_noop("申請内容の補正をお願いします（受付番号 %(receipt)s）。"),
    Status.RESUBMITTED: gettext_noop("補正した申請を受け付けました（受付番号 %(receipt)s）。"),
    Status.APPROVED: gettext_noop("申請が承認されました（受付番号 %(receipt)s）。"),
    Status.REJECTED: gettext_noop("申請は却下されました（受付番号 %(receipt)s）。"),
    Status.COMPLETED: gettext_noop("手続きが完了しました（受付番号 %(receipt)s）。"),
    Status.WITHDRAWN: gettext_noop("申請を取り下げました（受付番号 %(receipt)s）。"),
    # Not a transition: an event of the application's fee (payments, through services.notify_refunded).
    "refunded": gettext_noop("手数料を返金しました（受付番号 %(receipt)s）。返金の内容は申請の画面でご確認ください。"),
}

# The notices of an application that are not transitions of its state machine.
EVENT_KINDS = frozenset({"refunded"})


def text(notice) -> str:
    application = notice.application
    template = TEXTS.get(notice.kind)
    if application is None or template is None:
        return _("お知らせがあります。")
    return _(template) % {"receipt": application.receipt_number or "-", "fee": f"{application.fee_yen:,}"}


def channels() -> list[Channel]:
    """The configured channels; an unknown name is a configuration error that names it."""
    try:
        return [CHANNELS.get(name)() for name in settings.NOTICE_CHANNELS]
    except UnknownName as exc:
        raise ImproperlyConfigured(f"NOTICE_CHANNELS: {exc}") from None


def notify(transitions) -> None:
    """The transition listener of notices (applications/transitions.py): every configured
    channel is handed the transitions, inside the transition's transaction."""
    for channel in channels():
        channel.deliver(transitions)
