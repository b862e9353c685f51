"""お知らせ配信 (staff broadcasts), the service: create a broadcast for a segment (the whole
municipality, or a 町丁目 by address prefix, over the residents linked to a current resident
record), count its recipients, approve it (four eyes: a second member of staff, required for
a municipality-wide or an emergency broadcast), send it once through the delivery engine on
every delivery channel. Each step is an audit event. The back-office pages are left."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import current_municipality

from . import services
from .channels import DELIVERY_CHANNELS
from .models import Broadcast, Category

TITLE_MAX = 100


class BroadcastError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def create(user, *, title: str, category: str, segment: str, district: str = "") -> Broadcast:
    title, district = (title or "").strip(), (district or "").strip()
    if not title or len(title) > TITLE_MAX or any(c in title for c in "\r\n\x00"):
        raise BroadcastError("title", _("title: 表題は1〜100文字の1行で書いてください。"))
    if category not in Category.values:
        raise BroadcastError("category", _("category: 知らない分類です。"))
    if segment not in Broadcast.Segment.values:
        raise BroadcastError("segment", _("segment: 知らない配信先です。"))
    if segment == Broadcast.Segment.DISTRICT and not district:
        raise BroadcastError("district", _("district: 町丁目を指定してください。"))
    if len(district) > 100:
        raise BroadcastError("district", _("district: 町丁目が長すぎます。"))
    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            title=title, category=category, segment=segment,
            district=district if segment == Broadcast.Segment.DISTRICT else "", created_by=user)
        record("notices.broadcast_created", actor=user, obj=broadcast,
               data={"category": category, "segment": segment, "district": broadcast.district})
    return broadcast


def recipients(broadcast: Broadcast) -> list[int]:
    return identity.linked_person_ids(address_prefix=broadcast.district)


def needs_second_approval(broadcast: Broadcast) -> bool:
    return broadcast.segment == Broadcast.Segment.ALL or broadcast.category == Category.EMERGENCY


def approve(broadcast: Broadcast, user) -> Broadcast:
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.DRAFT:
            raise BroadcastError("status", _("status: 下書きの配信だけを承認できます。"))
        if broadcast.created_by_id == user.pk:
            raise BroadcastError("approved_by", _("approved_by: 作成した職員とは別の職員が承認してください。"))
        broadcast.status, broadcast.approved_by, broadcast.approved_at = (Broadcast.Status.APPROVED, user,
                                                                          timezone.now())
        broadcast.save(update_fields=["status", "approved_by", "approved_at"])
        record("notices.broadcast_approved", actor=user, obj=broadcast)
    return broadcast


def send(broadcast: Broadcast, user) -> int:
    """Queues the broadcast's deliveries on every delivery channel; returns the recipients."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status == Broadcast.Status.SENT:
            raise BroadcastError("status", _("status: この配信は送信済みです。"))
        if needs_second_approval(broadcast) and broadcast.status != Broadcast.Status.APPROVED:
            raise BroadcastError("status", _("status: 全域または緊急の配信は、別の職員の承認が必要です。"))
        people = recipients(broadcast)
        link = f"/{current_municipality().code}/"
        queued = {name: len(services.enqueue(people, channel_name=name, category=broadcast.category,
                                             kind="broadcast", link=link, broadcast=broadcast))
                  for name in DELIVERY_CHANNELS.names()}
        broadcast.status, broadcast.sent_at, broadcast.recipients = Broadcast.Status.SENT, timezone.now(), len(people)
        broadcast.save(update_fields=["status", "sent_at", "recipients"])
        record("notices.broadcast_sent", actor=user, obj=broadcast, data={"recipients": len(people), "queued": queued})
    return len(people)


def statistics(broadcast: Broadcast) -> dict[str, dict[str, int]]:
    """Deliveries per channel and status: {"email": {"queued": 3, "sent": 10, "failed": 1}, …}."""
    counts: dict[str, dict[str, int]] = {}
    for row in broadcast.deliveries.values("channel", "status").annotate(n=Count("id")):
        counts.setdefault(row["channel"], {})[row["status"]] = row["n"]
    return counts
