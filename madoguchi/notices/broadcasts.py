"""お知らせ配信 (staff broadcasts), the service: compose a broadcast (Japanese title and body,
optionally English) for a segment of the municipality's residents, see its recipients per
channel before anything is sent, send a test to oneself, have it approved (four eyes: a
second member of staff, for a municipality-wide or an emergency broadcast), send it now or at
a time (the worker's sweep sends it once), and follow its deliveries. Each step is an audit
event. The pages are staff_views.py.

Segments, over the residents linked to a current resident record (住民記録):
- 市内全域; 町丁目 (an address prefix);
- 年齢: the legal age on the reference date within a range. The law (年齢計算ニ関スル法律,
  民法143条) counts a year as complete at the end of the day before the birthday, so a
  person has their legal age N on the day before their N-th birthday: legal_age(birth, D)
  is the calendar age on D + 1 day (someone born on 29 February turns a year older at the
  end of 28 February);
- 子どものいる世帯: the members of households with a child under an age on the reference
  date, the children themselves left out;
- 手続きの申請者: residents with an application of a procedure in a status (through the
  applications app's read module).

What a delivery carries stays the title, the category and a link (messages.py); the body is
read in the portal's お知らせ after sign-in, where every recipient finds the broadcast
(InboxEntry), whether or not an e-mail address or a device reaches them.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.applications.services import reading as applications
from madoguchi.audit.services import record
from madoguchi.core.dates import born_bounds, legal_age, today_in_japan, years_before  # noqa: F401  (tests use legal_age)
from madoguchi.identity import services as identity
from madoguchi.municipalities.tenancy import current_municipality, tenant

from . import services
from .channels import DELIVERY_CHANNELS
from .models import Broadcast, Category, InboxEntry

log = logging.getLogger(__name__)

TITLE_MAX = 100
BODY_MAX = 2000
INBOX_BATCH = 2000


class BroadcastError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


# -- composing ----------------------------------------------------------------------------


def _one_line(value: str, field: str, label: str, *, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise BroadcastError(field, _("%(label)sを入力してください。") % {"label": label})
    if len(value) > TITLE_MAX or any(c in value for c in "\r\n\x00"):
        raise BroadcastError(field, _("%(label)sは100文字以内の1行で書いてください。") % {"label": label})
    return value


def _text(value: str, field: str, label: str, *, required: bool) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise BroadcastError(field, _("%(label)sを入力してください。") % {"label": label})
    if len(value) > BODY_MAX or "\x00" in value:
        raise BroadcastError(field, _("%(label)sは%(n)s文字以内にしてください（今は%(now)s文字です）。")
                             % {"label": label, "n": f"{BODY_MAX:,}", "now": f"{len(value):,}"})
    return value


def create(user, *, title: str, category: str, segment: str, body: str = "", title_en: str = "", body_en: str = "",
           district: str = "", age_min=None, age_max=None, child_age_under=None, reference_date=None,
           procedure_slug: str = "", application_status: str = "") -> Broadcast:
    """A draft, checked field by field (BroadcastError names the field and says what to do)."""
    fields = {
        "title": _one_line(title, "title", _("表題"), required=True),
        "body": _text(body, "body", _("本文"), required=True),
        "title_en": _one_line(title_en, "title_en", _("表題（英語）"), required=False),
        "body_en": _text(body_en, "body_en", _("本文（英語）"), required=False),
    }
    if fields["body_en"] and not fields["title_en"]:
        raise BroadcastError("title_en", _("英語の本文には英語の表題も入力してください。"))
    if category not in Category.values:
        raise BroadcastError("category", _("分類を選んでください。"))
    if segment not in Broadcast.Segment.values:
        raise BroadcastError("segment", _("配信先を選んでください。"))
    fields.update(category=category, segment=segment, **_segment_fields(
        segment, district=district, age_min=age_min, age_max=age_max, child_age_under=child_age_under,
        reference_date=reference_date, procedure_slug=procedure_slug, application_status=application_status))
    with transaction.atomic():
        broadcast = Broadcast.objects.create(created_by=user, **fields)
        record("notices.broadcast_created", actor=user, obj=broadcast,
               data={"category": category, "segment": segment, **_segment_summary(broadcast)})
    return broadcast


def _segment_fields(segment, *, district, age_min, age_max, child_age_under, reference_date, procedure_slug,
                    application_status) -> dict:
    S = Broadcast.Segment
    out = {}
    if segment == S.DISTRICT:
        district = (district or "").strip()
        if not district:
            raise BroadcastError("district", _("町丁目（住所の先頭）を入力してください。例: 東京都窓口市本町一丁目"))
        if len(district) > 100:
            raise BroadcastError("district", _("町丁目は100文字以内で入力してください。"))
        out["district"] = district
    elif segment == S.AGE:
        if age_min is None and age_max is None:
            raise BroadcastError("age_min", _("年齢の下限か上限を入力してください。"))
        for name, value in (("age_min", age_min), ("age_max", age_max)):
            if value is not None and not (isinstance(value, int) and 0 <= value <= 150):
                raise BroadcastError(name, _("年齢は0〜150の数で入力してください。"))
        if age_min is not None and age_max is not None and age_min > age_max:
            raise BroadcastError("age_max", _("年齢の上限は下限以上にしてください。"))
        out.update(age_min=age_min, age_max=age_max, reference_date=reference_date)
    elif segment == S.CHILDREN:
        if not (isinstance(child_age_under, int) and 1 <= child_age_under <= 30):
            raise BroadcastError("child_age_under", _("子どもの年齢（〜歳未満）を1〜30の数で入力してください。"))
        out.update(child_age_under=child_age_under, reference_date=reference_date)
    elif segment == S.APPLICANTS:
        if procedure_slug not in dict(applications.procedure_choices()):
            raise BroadcastError("procedure_slug", _("手続きを選んでください。"))
        if application_status not in dict(applications.status_choices()):
            raise BroadcastError("application_status", _("申請の状態を選んでください。"))
        out.update(procedure_slug=procedure_slug, application_status=application_status)
    return out


def _segment_summary(broadcast: Broadcast) -> dict:
    keys = ("district", "age_min", "age_max", "child_age_under", "procedure_slug", "application_status")
    out = {k: getattr(broadcast, k) for k in keys if getattr(broadcast, k) not in ("", None)}
    if broadcast.reference_date:
        out["reference_date"] = broadcast.reference_date.isoformat()
    return out


def segment_text(broadcast: Broadcast) -> str:
    """The segment in words, for the pages."""
    S = Broadcast.Segment
    on = broadcast.reference_date
    day = (_("%(y)s年%(m)s月%(d)s日") % {"y": on.year, "m": on.month, "d": on.day}) if on else _("配信日")
    if broadcast.segment == S.DISTRICT:
        return _("町丁目: %(d)s") % {"d": broadcast.district}
    if broadcast.segment == S.AGE:
        low = broadcast.age_min if broadcast.age_min is not None else 0
        high = _("%(n)s歳") % {"n": broadcast.age_max} if broadcast.age_max is not None else _("上限なし")
        return _("%(day)sに%(low)s歳〜%(high)sの方") % {"day": day, "low": low, "high": high}
    if broadcast.segment == S.CHILDREN:
        return _("%(day)sに%(n)s歳未満の子どもがいる世帯の方（子ども本人を除く）") % {"day": day, "n": broadcast.child_age_under}
    if broadcast.segment == S.APPLICANTS:
        titles = dict(applications.procedure_choices())
        statuses = dict(applications.status_choices())
        return _("「%(p)s」の申請が「%(s)s」の方") % {"p": titles.get(broadcast.procedure_slug, broadcast.procedure_slug),
                                               "s": statuses.get(broadcast.application_status, broadcast.application_status)}
    return str(S.ALL.label)


# -- who receives it ----------------------------------------------------------------------


# The age rules are the law's (core.dates): the same for broadcasts, benefits and procedures.
_born_bounds = born_bounds


def recipients(broadcast: Broadcast) -> list[int]:
    S = Broadcast.Segment
    on = broadcast.reference_date or today_in_japan()
    if broadcast.segment == S.AGE:
        on_or_before, born_after = _born_bounds(on, broadcast.age_min, broadcast.age_max)
        return identity.linked_person_ids(born_on_or_before=on_or_before, born_after=born_after)
    if broadcast.segment == S.CHILDREN:
        return identity.guardian_person_ids(child_born_after=_born_bounds(on, broadcast.child_age_under, None)[0])
    if broadcast.segment == S.APPLICANTS:
        return applications.applicant_person_ids(broadcast.procedure_slug, broadcast.application_status)
    return identity.linked_person_ids(address_prefix=broadcast.district)


def preview(broadcast: Broadcast) -> dict:
    """Before sending: how many residents, and how many each channel reaches now (a resident
    who silenced the category is not counted, except for 防災・緊急)."""
    people = recipients(broadcast)
    channels = []
    for name in DELIVERY_CHANNELS.names():
        reached = services.reachable(people, channel_name=name, category=broadcast.category)
        channels.append({"name": name, "count": reached})
    return {"inbox": len(people), "channels": channels}


# -- approving, testing, sending ----------------------------------------------------------


def awaiting_approval(user) -> list[Broadcast]:
    """The approval queue of a member of staff: drafts that need a second pair of eyes and
    that they did not write, oldest first."""
    from django.db.models import Q

    return list(Broadcast.objects.filter(status=Broadcast.Status.DRAFT)
                .filter(Q(segment=Broadcast.Segment.ALL) | Q(category=Category.EMERGENCY))
                .exclude(created_by=user).select_related("created_by").order_by("created_at"))


def needs_second_approval(broadcast: Broadcast) -> bool:
    return broadcast.segment == Broadcast.Segment.ALL or broadcast.category == Category.EMERGENCY


def approve(broadcast: Broadcast, user) -> Broadcast:
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.DRAFT:
            raise BroadcastError("status", _("下書きの配信だけを承認できます。"))
        if broadcast.created_by_id == user.pk:
            raise BroadcastError("approved_by", _("作成した職員とは別の職員が承認してください。"))
        broadcast.status, broadcast.approved_by, broadcast.approved_at = (Broadcast.Status.APPROVED, user,
                                                                          timezone.now())
        broadcast.save(update_fields=["status", "approved_by", "approved_at"])
        record("notices.broadcast_approved", actor=user, obj=broadcast)
    return broadcast


def _ready(broadcast: Broadcast) -> None:
    if broadcast.status == Broadcast.Status.SENT:
        raise BroadcastError("status", _("この配信は送信済みです。"))
    if needs_second_approval(broadcast) and broadcast.status not in (Broadcast.Status.APPROVED,
                                                                     Broadcast.Status.SCHEDULED):
        raise BroadcastError("status", _("市内全域または防災・緊急の配信は、作成した職員とは別の職員の承認が必要です。"))


def send_test(broadcast: Broadcast, user) -> str:
    """The e-mail a resident would receive, sent to the member of staff's own address (the
    body and English version included, so they can be read before residents get them)."""
    address = (user.email or "").strip()
    if not address:
        raise BroadcastError("test", _("あなたのメールアドレスが登録されていません。管理者に登録を依頼してください。"))
    municipality = current_municipality()
    context = {"broadcast": broadcast, "municipality": municipality,
               "category": Category(broadcast.category).label,
               "url": settings.SITE_URL + f"/{municipality.code}/notices/"}
    subject = _("【テスト送信】[%(category)s] %(title)s") % {"category": context["category"], "title": broadcast.title}
    mail = EmailMultiAlternatives(subject=subject, body=render_to_string("notices/broadcast_test.txt", context),
                                  to=[address])
    mail.send()
    record("notices.broadcast_test_sent", actor=user, obj=broadcast)
    return address


def schedule(broadcast: Broadcast, user, at: dt.datetime) -> Broadcast:
    """Sends the broadcast at `at` (the worker's sweep); an approval it needs comes first."""
    if timezone.is_naive(at):
        raise BroadcastError("scheduled_at", _("配信日時を入力してください。"))
    if at <= timezone.now():
        raise BroadcastError("scheduled_at", _("配信日時は今より後にしてください（今すぐなら「今すぐ配信する」）。"))
    if at > timezone.now() + dt.timedelta(days=90):
        raise BroadcastError("scheduled_at", _("配信日時は90日以内にしてください。"))
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        _ready(broadcast)
        broadcast.status, broadcast.scheduled_at = Broadcast.Status.SCHEDULED, at
        broadcast.save(update_fields=["status", "scheduled_at"])
        record("notices.broadcast_scheduled", actor=user, obj=broadcast, data={"at": at.isoformat()})
    return broadcast


def cancel_schedule(broadcast: Broadcast, user) -> Broadcast:
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        if broadcast.status != Broadcast.Status.SCHEDULED:
            raise BroadcastError("status", _("予約されている配信だけを取り消せます。"))
        broadcast.status = Broadcast.Status.APPROVED if broadcast.approved_by_id else Broadcast.Status.DRAFT
        broadcast.scheduled_at = None
        broadcast.save(update_fields=["status", "scheduled_at"])
        record("notices.broadcast_schedule_cancelled", actor=user, obj=broadcast)
    return broadcast


def send(broadcast: Broadcast, user) -> int:
    """Puts the broadcast in every recipient's お知らせ and queues its deliveries on every
    delivery channel, once (the row is locked; a sent broadcast is refused). Returns the
    number of recipients. `user` None: the worker's sweep, at the scheduled time."""
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
        _ready(broadcast)
        people = recipients(broadcast)
        if not people:
            raise BroadcastError("segment", _("この配信先に当てはまる住民がいません。配信先を見直してください。"))
        municipality = current_municipality()
        for start in range(0, len(people), INBOX_BATCH):
            InboxEntry.objects.bulk_create(
                [InboxEntry(municipality=municipality, broadcast=broadcast, person_id=p)
                 for p in people[start:start + INBOX_BATCH]], ignore_conflicts=True)
        link = f"/{municipality.code}/notices/"
        queued = {name: services.fan_out(people, channel_name=name, category=broadcast.category, kind="broadcast",
                                         link=link, broadcast=broadcast)
                  for name in DELIVERY_CHANNELS.names()}
        broadcast.status, broadcast.sent_at, broadcast.recipients = Broadcast.Status.SENT, timezone.now(), len(people)
        broadcast.save(update_fields=["status", "sent_at", "recipients"])
        record("notices.broadcast_sent", actor=user if user is not None else ("system", "schedule"), obj=broadcast,
               data={"recipients": len(people), "queued": queued, "scheduled": user is None})
    return len(people)


def send_due(now: dt.datetime | None = None) -> int:
    """The worker's sweep: sends the scheduled broadcasts whose time has come, each once —
    a second worker finds the row locked (skipped) or already sent."""
    now = now or timezone.now()
    sent = 0
    due = list(Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, scheduled_at__lte=now)
               .values_list("pk", flat=True)[:20])
    for pk in due:
        with transaction.atomic():
            locked = Broadcast.objects.select_for_update(skip_locked=True).filter(
                pk=pk, status=Broadcast.Status.SCHEDULED).first()
            if locked is None:
                continue
            try:
                with transaction.atomic():
                    send(locked, None)
            except BroadcastError as exc:
                # Not sendable at its time (the segment emptied): back to where it was before
                # scheduling, with the reason in the audit trail; the page shows it again.
                locked.status = Broadcast.Status.APPROVED if locked.approved_by_id else Broadcast.Status.DRAFT
                locked.scheduled_at = None
                locked.save(update_fields=["status", "scheduled_at"])
                record("notices.broadcast_schedule_failed", actor=("system", "schedule"), obj=locked,
                       data={"reason": str(exc)})
                continue
            sent += 1
    return sent


def sweep(now: dt.datetime | None = None) -> int:
    """Every worker's sweep (core/management/commands/worker.py): the due broadcasts of every
    municipality, each sent in its municipality's scope."""
    from madoguchi.municipalities.models import Municipality

    now = now or timezone.now()
    sent = 0
    due = (Broadcast.unscoped.filter(status=Broadcast.Status.SCHEDULED, scheduled_at__lte=now)
           .values_list("municipality_id", flat=True).distinct())
    for municipality in Municipality.objects.filter(pk__in=list(due)):
        with tenant(municipality):
            sent += send_due(now)
    return sent


def statistics(broadcast: Broadcast) -> dict[str, dict[str, int]]:
    """Deliveries per channel and status: {"email": {"queued": 3, "sent": 10, "failed": 1}, …}."""
    counts: dict[str, dict[str, int]] = {}
    for row in broadcast.deliveries.values("channel", "status").annotate(n=Count("id")):
        counts.setdefault(row["channel"], {})[row["status"]] = row["n"]
    for c in counts.values():
        c["waiting"] = c.get("queued", 0) + c.get("sending", 0)
    return counts


def readers(broadcast: Broadcast) -> int:
    """How many recipients opened their お知らせ since the broadcast reached it (the page
    marks what it shows as read): the only "opened" figure kept — mails and pushes carry no
    tracking pixel or per-recipient link."""
    return broadcast.inbox.filter(read_at__isnull=False).count()


def in_progress(statistics_: dict) -> bool:
    return any(c.get("waiting") for c in statistics_.values())


# -- the resident's お知らせ ----------------------------------------------------------------


def inbox_rows(person, *, language: str = "ja", limit: int = 100) -> list[dict]:
    """The broadcasts in a resident's お知らせ, newest first, in their language where staff
    wrote it."""
    rows = []
    for entry in (InboxEntry.objects.filter(person=person).select_related("broadcast")
                  .order_by("-created_at", "-id")[:limit]):
        b = entry.broadcast
        english = language != "ja" and b.title_en
        rows.append({"id": entry.pk, "created_at": entry.created_at, "unread": entry.read_at is None,
                     "title": b.title_en if english else b.title, "body": b.body_en if english else b.body,
                     "lang": "en" if english else "ja", "category": Category(b.category).label,
                     "emergency": b.category == Category.EMERGENCY})
    return rows


def mark_inbox_read(person) -> int:
    with transaction.atomic():
        count = InboxEntry.objects.filter(person=person, read_at__isnull=True).update(read_at=timezone.now())
        if count:
            record("notices.inbox_read", actor=("resident", str(person.public_id)), data={"count": count})
    return count
