"""The text of a delivery: a title by kind, the category and a link. Never a name, an
application's data (not even its receipt number) or an individual number: the resident
reads the content after signing in."""

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .channels import Message
from .models import Category

TITLES = {
    "application.submitted": gettext_noop("申請を受け付けました"),
    "application.payment_required": gettext_noop("手数料のお支払いをお待ちしています"),
    "application.received": gettext_noop("担当課が申請の審査を始めました"),
    "application.returned": gettext_noop("申請内容の補正をお願いします"),
    "application.resubmitted": gettext_noop("補正した申請を受け付けました"),
    "application.approved": gettext_noop("申請の審査が終わりました"),
    "application.rejected": gettext_noop("申請の審査が終わりました"),
    "application.completed": gettext_noop("手続きが完了しました"),
    "application.withdrawn": gettext_noop("申請を取り下げました"),
    "application.refunded": gettext_noop("手数料を返金しました"),
    "benefits.scheduled": gettext_noop("給付金の支給予定のお知らせ"),
    "benefits.confirmation_needed": gettext_noop("給付金の確認書の提出をお願いします"),
    "bookings.reminder": gettext_noop("来庁予約の日が近づいています"),
    "moving.delivered": gettext_noop("転出の情報が転入先に届きました"),
    "moving.confirmed": gettext_noop("転入の手続きが終わりました。あわせて必要な手続きをご確認ください"),
    "benefits.failed": gettext_noop("給付金を振り込めませんでした。口座を確かめてください"),
}


def message(delivery) -> Message:
    if delivery.broadcast_id is not None:
        title = delivery.broadcast.title  # staff's words, written for every recipient alike
    else:
        title = _(TITLES.get(delivery.kind, gettext_noop("お知らせがあります")))
    return Message(title=title, category_label=str(Category(delivery.category).label),
                   url=settings.SITE_URL + delivery.link)
