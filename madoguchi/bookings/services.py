"""来庁予約: the slots of a counter's day, booking (never over capacity), change, cancel,
the day's list, no-show marks and reminders (docs/bookings.md).

Capacity: the first booking of a slot creates its Slot row with the counter's capacity; each
booking then takes a place with one conditional UPDATE (`booked < capacity`), which the
database applies to one row at a time — so of a hundred residents racing for the last place
exactly one gets it — and the check constraint `booked <= capacity` refuses anything that
would pass it however the row is written.
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.audit.services import record
from madoguchi.core.dates import JST
from madoguchi.municipalities.tenancy import current_municipality

from .models import Booking, Counter, Holiday, Slot

MAX_OPEN_BOOKINGS = 3  # a resident's future bookings at once (a slot is a shared resource)
PURPOSE_MAX = 100


class BookingError(ValueError):
    """A refused step: `field` names the form field; `status` the HTTP status."""

    def __init__(self, message: str, field_: str | None = None, status: int = 400):
        self.field = field_
        self.status = status
        super().__init__(message)


def _now() -> dt.datetime:
    return timezone.now()


def is_open_day(counter: Counter, day: dt.date) -> bool:
    return day.weekday() < 5 and not Holiday.objects.filter(day=day).exists()


def slot_starts(counter: Counter, day: dt.date) -> list[dt.datetime]:
    """The starts of the day's slots (aware, Japan time); none on a closed day."""
    if not is_open_day(counter, day):
        return []
    start = dt.datetime.combine(day, counter.opens_at, tzinfo=JST)
    end = dt.datetime.combine(day, counter.closes_at, tzinfo=JST)
    step = dt.timedelta(minutes=counter.slot_minutes)
    out = []
    while start + step <= end:
        out.append(start)
        start += step
    return out


def slots_on(counter: Counter, day: dt.date, now: dt.datetime | None = None) -> list[dict]:
    """Each slot of the day with its places left (past slots are not offered)."""
    now = now or _now()
    booked = dict(Slot.objects.filter(counter=counter, starts_at__date__gte=day - dt.timedelta(days=1),
                                      starts_at__date__lte=day + dt.timedelta(days=1))
                  .values_list("starts_at", "booked"))
    out = []
    for start in slot_starts(counter, day):
        if start <= now:
            continue
        left = counter.capacity - booked.get(start, 0)
        out.append({"starts_at": start, "left": max(left, 0)})
    return out


def bookable_days(counter: Counter, today: dt.date) -> list[dt.date]:
    return [today + dt.timedelta(days=n) for n in range(0, counter.book_days_ahead + 1)
            if is_open_day(counter, today + dt.timedelta(days=n))]


def _check_slot(counter: Counter, starts_at, now: dt.datetime) -> dt.datetime:
    if not isinstance(starts_at, dt.datetime) or starts_at.tzinfo is None:
        raise BookingError(_("予約する日時を選んでください。"), "slot")
    starts_at = starts_at.astimezone(JST)
    if starts_at <= now:
        raise BookingError(_("過ぎた日時は予約できません。別の日時を選んでください。"), "slot")
    if starts_at.date() > now.astimezone(JST).date() + dt.timedelta(days=counter.book_days_ahead):
        raise BookingError(_("予約できるのは%(n)s日先までです。") % {"n": counter.book_days_ahead}, "slot")
    if starts_at not in slot_starts(counter, starts_at.date()):
        raise BookingError(_("その日時は予約を受け付けていません（閉庁日か受付時間外です）。"), "slot")
    return starts_at


def _take_place(counter: Counter, starts_at: dt.datetime) -> None:
    """One place of the slot, or BookingError (full). Inside the caller's transaction."""
    try:
        with transaction.atomic():
            slot, _created = Slot.objects.get_or_create(counter=counter, starts_at=starts_at,
                                                        defaults={"capacity": counter.capacity})
    except IntegrityError:  # created by a racing booking between our read and our insert
        slot = Slot.objects.get(counter=counter, starts_at=starts_at)
    taken = Slot.objects.filter(pk=slot.pk, booked__lt=F("capacity")).update(booked=F("booked") + 1)
    if not taken:
        raise BookingError(_("その時間は予約でいっぱいです。別の時間を選んでください。"), "slot", status=409)


def _give_back(booking: Booking) -> None:
    Slot.objects.filter(counter_id=booking.counter_id, starts_at=booking.starts_at,
                        booked__gt=0).update(booked=F("booked") - 1)


def _counter(counter_id) -> Counter:
    counter = Counter.objects.filter(pk=counter_id, active=True).first() if str(counter_id).isdigit() else None
    if counter is None:
        raise BookingError(_("窓口を選んでください。"), "counter", status=404)
    return counter


def _purpose(text) -> str:
    text = (text or "").strip()
    if not text:
        raise BookingError(_("用件を入力してください（例: 転入の手続き）。"), "purpose")
    if len(text) > PURPOSE_MAX or any(ord(c) < 0x20 for c in text):
        raise BookingError(_("用件は改行なしの%(n)s文字以内にしてください。") % {"n": PURPOSE_MAX}, "purpose")
    return text


def book(person, counter_id, starts_at, purpose, *, now: dt.datetime | None = None) -> Booking:
    now = now or _now()
    counter = _counter(counter_id)
    starts_at = _check_slot(counter, starts_at, now)
    purpose = _purpose(purpose)
    with transaction.atomic():
        if Booking.objects.filter(person=person, status=Booking.Status.BOOKED, starts_at__gt=now).count() >= MAX_OPEN_BOOKINGS:
            raise BookingError(_("予約は同時に%(n)s件までです。使わない予約を取り消してから予約してください。")
                               % {"n": MAX_OPEN_BOOKINGS}, "slot", status=409)
        _take_place(counter, starts_at)
        booking = Booking.objects.create(municipality=current_municipality(), counter=counter, starts_at=starts_at,
                                         person=person, purpose=purpose)
        record("bookings.booked", actor=("resident", str(person.public_id)), obj=booking,
               data={"counter": counter.pk, "starts_at": starts_at.isoformat()})
    return booking


def own(person, public_id) -> Booking:
    import uuid

    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    booking = Booking.objects.select_related("counter").filter(public_id=key, person=person).first() if key else None
    if booking is None:
        raise BookingError(_("この予約は見つかりません。"), status=404)
    return booking


def cancel(person, public_id, *, now: dt.datetime | None = None) -> Booking:
    now = now or _now()
    with transaction.atomic():
        booking = own(person, public_id)
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status != Booking.Status.BOOKED or booking.starts_at <= now:
            raise BookingError(_("この予約は取り消せません（過ぎたか、すでに取り消されています）。"), status=409)
        booking.status = Booking.Status.CANCELLED
        booking.save(update_fields=["status"])
        _give_back(booking)
        record("bookings.cancelled", actor=("resident", str(person.public_id)), obj=booking, data={})
    return booking


def change(person, public_id, starts_at, *, now: dt.datetime | None = None) -> Booking:
    """Moves a booking to another slot of the same counter: the new place is taken before the
    old one is given back, in one transaction (a full slot leaves the booking as it was)."""
    now = now or _now()
    with transaction.atomic():
        booking = own(person, public_id)
        booking = Booking.objects.select_for_update().select_related("counter").get(pk=booking.pk)
        if booking.status != Booking.Status.BOOKED or booking.starts_at <= now:
            raise BookingError(_("この予約は変更できません（過ぎたか、すでに取り消されています）。"), status=409)
        starts_at = _check_slot(booking.counter, starts_at, now)
        if starts_at == booking.starts_at:
            return booking
        _take_place(booking.counter, starts_at)
        _give_back(booking)
        old = booking.starts_at
        booking.starts_at = starts_at
        booking.reminded = False
        booking.save(update_fields=["starts_at", "reminded"])
        record("bookings.changed", actor=("resident", str(person.public_id)), obj=booking,
               data={"from": old.isoformat(), "to": starts_at.isoformat()})
    return booking


def mine(person, now: dt.datetime | None = None) -> list[Booking]:
    now = now or _now()
    return list(Booking.objects.select_related("counter").filter(person=person, status=Booking.Status.BOOKED,
                                                                 starts_at__gt=now - dt.timedelta(hours=1))
                .order_by("starts_at"))


# -- staff ------------------------------------------------------------------------------------


def create_counter(user, *, name, place, opens_at, closes_at, slot_minutes, capacity, book_days_ahead=30) -> Counter:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise BookingError(_("窓口の名前を100文字以内で入力してください。"), "name")
    if not isinstance(opens_at, dt.time) or not isinstance(closes_at, dt.time) or closes_at <= opens_at:
        raise BookingError(_("受付終了は受付開始より後の時刻にしてください。"), "closes_at")
    if not isinstance(slot_minutes, int) or not 5 <= slot_minutes <= 240:
        raise BookingError(_("1枠の長さは5〜240分で入力してください。"), "slot_minutes")
    if not isinstance(capacity, int) or not 1 <= capacity <= 100:
        raise BookingError(_("1枠の定員は1〜100人で入力してください。"), "capacity")
    if not isinstance(book_days_ahead, int) or not 1 <= book_days_ahead <= 180:
        raise BookingError(_("何日先まで予約できるかは1〜180日で入力してください。"), "book_days_ahead")
    if Counter.objects.filter(name=name).exists():
        raise BookingError(_("同じ名前の窓口がすでにあります。"), "name")
    with transaction.atomic():
        counter = Counter.objects.create(municipality=current_municipality(), name=name, place=(place or "").strip()[:200],
                                         opens_at=opens_at, closes_at=closes_at, slot_minutes=slot_minutes,
                                         capacity=capacity, book_days_ahead=book_days_ahead)
        record("bookings.counter_created", actor=user, obj=counter,
               data={"name": name, "slot_minutes": slot_minutes, "capacity": capacity})
    return counter


def add_holiday(user, day, name="") -> Holiday:
    if not isinstance(day, dt.date):
        raise BookingError(_("休日の日付を入力してください。"), "day")
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(municipality=current_municipality(), day=day, name=(name or "")[:100])
            record("bookings.holiday_added", actor=user, obj=holiday, data={"day": day.isoformat()})
    except IntegrityError:
        raise BookingError(_("その日はすでに休日です。"), "day") from None
    return holiday


def day_list(counter: Counter, day: dt.date) -> list[Booking]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=JST)
    return list(Booking.objects.filter(counter=counter, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
                .exclude(status=Booking.Status.CANCELLED).order_by("starts_at", "id"))


def mark(user, booking_id, status: str) -> Booking:
    if status not in (Booking.Status.VISITED, Booking.Status.NO_SHOW):
        raise BookingError(_("この操作はできません。"))
    with transaction.atomic():
        booking = Booking.objects.select_for_update().filter(pk=booking_id).first() if str(booking_id).isdigit() else None
        if booking is None:
            raise BookingError(_("この予約は見つかりません。"), status=404)
        if booking.status == Booking.Status.CANCELLED:
            raise BookingError(_("取り消された予約です。"), status=409)
        booking.status = status
        booking.updated_by = user
        booking.save(update_fields=["status", "updated_by"])
        record("bookings.marked", actor=user, obj=booking, data={"status": status})
    return booking


def sweep(now: dt.datetime | None = None) -> int:
    """The worker's sweep: a reminder notice for each booking of the next 24 hours, once."""
    from madoguchi.municipalities.tenancy import tenant
    from madoguchi.notices import services as notices

    now = now or _now()
    due = list(Booking.unscoped.filter(status=Booking.Status.BOOKED, reminded=False, starts_at__gt=now,
                                       starts_at__lte=now + dt.timedelta(hours=24))
               .select_related("municipality")[:5000])
    sent = 0
    for booking in due:
        with tenant(booking.municipality), transaction.atomic():
            if not Booking.objects.filter(pk=booking.pk, reminded=False).update(reminded=True):
                continue  # another worker's sweep took it
            notices.fan_out_everywhere([booking.person_id], category="applications", kind="bookings.reminder",
                                       link=f"/{booking.municipality.code}/bookings/")
            sent += 1
    return sent


def ensure_demo(municipality) -> Counter:
    """The demo's counter (idempotent): 市民課 転入・転出窓口, weekdays 9:00–17:00, 30-minute
    slots of 3 places."""
    from madoguchi.municipalities.tenancy import tenant

    with tenant(municipality):
        counter = Counter.objects.filter(name="市民課 転入・転出窓口").first()
        if counter is None:
            counter = Counter.objects.create(municipality=municipality, name="市民課 転入・転出窓口",
                                             place="本庁舎1階", opens_at=dt.time(9), closes_at=dt.time(17),
                                             slot_minutes=30, capacity=3)
            record("bookings.counter_created", actor=("system", "demo"), obj=counter,
                   data={"name": counter.name, "slot_minutes": 30, "capacity": 3})
    return counter
