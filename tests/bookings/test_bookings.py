"""来庁予約: a day's slots (closed on weekends and holidays, none in the past), booking up to
the capacity, a full slot, the past, a time outside the hours, too far ahead, too many open
bookings; change (the old place given back, a full slot leaves it as it was) and cancel; the
staff's counters, holidays, the day's list and marks; one resident never reaches another's."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from madoguchi.audit.models import AuditEvent
from madoguchi.bookings import services
from madoguchi.bookings.models import Booking, Counter, Slot
from madoguchi.core.dates import JST
from madoguchi.identity.models import Person
from madoguchi.municipalities.tenancy import tenant
from tests.applications.test_pages import signed_in
from tests.conftest import sign_in

NOW = dt.datetime(2026, 12, 7, 8, 0, tzinfo=JST)  # a Monday, before opening


def resident(n: int) -> Person:
    return Person.objects.create(verified_name=f"予約　{n}", verified_birth_date=dt.date(1990, 1, 1), verified_sex="1",
                                 verified_address="窓口市", verified_at=dt.datetime.now(dt.timezone.utc))


@pytest.fixture
def counter(muni_a, admin_a):
    with tenant(muni_a):
        return services.create_counter(admin_a[0], name="市民課 転入窓口", place="本庁舎1階", opens_at=dt.time(9),
                                       closes_at=dt.time(11), slot_minutes=30, capacity=2, book_days_ahead=14)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=JST)


def test_slots_and_booking_up_to_the_capacity(muni_a, admin_a, counter):
    with tenant(muni_a):
        assert [s["starts_at"].hour * 60 + s["starts_at"].minute for s in services.slots_on(counter, NOW.date(), NOW)] \
            == [540, 570, 600, 630]
        assert services.slots_on(counter, dt.date(2026, 12, 12), NOW) == []  # Saturday
        services.add_holiday(admin_a[0], dt.date(2026, 12, 8), "臨時休庁")
        assert services.slots_on(counter, dt.date(2026, 12, 8), NOW) == []
        a, b, c = resident(1), resident(2), resident(3)
        services.book(a, counter.pk, at(7, 9), "転入の手続き", now=NOW)
        services.book(b, counter.pk, at(7, 9), "転入の手続き", now=NOW)
        with pytest.raises(services.BookingError) as full:
            services.book(c, counter.pk, at(7, 9), "転入の手続き", now=NOW)
        assert full.value.status == 409 and "いっぱい" in str(full.value)
        assert services.slots_on(counter, NOW.date(), NOW)[0]["left"] == 0
        for when, field in ((at(7, 7), "slot"),  # the past
                            (at(7, 11), "slot"),  # at closing: no slot starts there
                            (at(7, 9, 10), "slot"),  # not a slot's start
                            (at(8, 9), "slot"),  # the holiday
                            (at(28, 9), "slot"),  # beyond 14 days
                            (None, "slot")):
            with pytest.raises(services.BookingError) as bad:
                services.book(c, counter.pk, when, "転入", now=NOW - dt.timedelta(hours=1) if when == at(7, 7) else NOW)
            assert bad.value.field == field, when
        with pytest.raises(services.BookingError) as no_purpose:
            services.book(c, counter.pk, at(7, 10), " ", now=NOW)
        assert no_purpose.value.field == "purpose"
        with pytest.raises(services.BookingError) as no_counter:
            services.book(c, 99999, at(7, 10), "転入", now=NOW)
        assert no_counter.value.status == 404
        for hour in (9, 10):
            services.book(c, counter.pk, at(9, hour), "転入", now=NOW)
        services.book(c, counter.pk, at(10, 9), "転入", now=NOW)
        with pytest.raises(services.BookingError) as many:
            services.book(c, counter.pk, at(11, 9), "転入", now=NOW)
        assert many.value.status == 409
        assert Booking.objects.count() == 5 and AuditEvent.objects.filter(action="bookings.booked").count() == 5
        # The database itself refuses a count past the capacity.
        with pytest.raises(IntegrityError), transaction.atomic():
            Slot.objects.filter(counter=counter, starts_at=at(7, 9)).update(booked=3)


def test_change_and_cancel_give_places_back(muni_a, counter):
    with tenant(muni_a):
        a, b, c = resident(1), resident(2), resident(3)
        mine = services.book(a, counter.pk, at(7, 9), "転入", now=NOW)
        services.book(b, counter.pk, at(7, 10), "転入", now=NOW)
        services.book(c, counter.pk, at(7, 10), "転入", now=NOW)
        with pytest.raises(services.BookingError):  # 10:00 is full: the booking stays at 9:00
            services.change(a, mine.public_id, at(7, 10), now=NOW)
        assert Booking.objects.get(pk=mine.pk).starts_at == at(7, 9)
        services.change(a, mine.public_id, at(7, 10, 30), now=NOW)
        counts = dict(Slot.objects.values_list("starts_at", "booked"))
        assert counts[at(7, 9)] == 0 and counts[at(7, 10, 30)] == 1
        with pytest.raises(services.BookingError) as theirs:
            services.cancel(b, mine.public_id, now=NOW)
        assert theirs.value.status == 404
        services.cancel(a, mine.public_id, now=NOW)
        assert dict(Slot.objects.values_list("starts_at", "booked"))[at(7, 10, 30)] == 0
        with pytest.raises(services.BookingError):
            services.cancel(a, mine.public_id, now=NOW)
        with pytest.raises(services.BookingError):
            services.own(a, "not-a-uuid")


def test_the_pages(client, muni_a, admin_a, viewer_a, counter):
    with tenant(muni_a):
        me, other = resident(1), resident(2)
    signed_in(client, muni_a, me)
    base = f"/{muni_a.code}/bookings/"
    assert "予約はありません。" in client.get(base).content.decode()
    step = client.get(base + "new/", {"counter": counter.pk, "purpose": "転入の手続き"}).content.decode()
    with tenant(muni_a):
        day = services.bookable_days(counter, dt.date.today())[1]
    slots = client.get(base + "new/", {"counter": counter.pk, "purpose": "転入の手続き", "day": day.isoformat()})
    assert "残り2" in slots.content.decode() and "空いている時間を見る" in step
    bad_day = client.get(base + "new/", {"counter": counter.pk, "purpose": "x", "day": "2020-01-01"})
    assert bad_day.status_code == 400 and "その日は予約を受け付けていません" in bad_day.content.decode()
    booked = client.post(base + "new/", {"counter": counter.pk, "purpose": "転入の手続き", "day": day.isoformat(),
                                         "slot": f"{day.isoformat()}T09:30"})
    assert booked.status_code == 302
    detail = client.get(booked["Location"]).content.decode()
    assert "data:image/svg+xml" in detail and "転入の手続き" in detail and "予約中" in detail
    garbage = client.post(base + "new/", {"counter": counter.pk, "purpose": "x", "day": day.isoformat(), "slot": "<x>"})
    assert garbage.status_code == 400 and "予約する日時を選んでください。" in garbage.content.decode()
    stranger = Client()
    signed_in(stranger, muni_a, other)
    assert stranger.get(booked["Location"]).status_code == 404
    assert stranger.post(booked["Location"] + "cancel/").status_code == 404
    assert client.post(booked["Location"] + "cancel/").status_code == 302
    assert Client().get(base).status_code == 302  # sign in first

    staff = Client()
    assert sign_in(staff, muni_a, *admin_a).status_code == 302
    page = staff.get(f"/{muni_a.code}/staff/bookings/").content.decode()
    assert "市民課 転入窓口" in page
    bad = staff.post(f"/{muni_a.code}/staff/bookings/", {"name": "x", "opens_at": "10:00", "closes_at": "09:00",
                                                         "slot_minutes": "30", "capacity": "2", "book_days_ahead": "30"})
    assert bad.status_code == 400 and "受付終了は受付開始より後の時刻にしてください。" in bad.content.decode()
    with tenant(muni_a):
        again = services.book(me, counter.pk, dt.datetime.combine(day, dt.time(10), tzinfo=JST), "転入")
    listing = staff.get(f"/{muni_a.code}/staff/bookings/{counter.pk}/", {"day": day.isoformat()}).content.decode()
    assert "転入" in listing and "来庁なし" in listing
    marked = staff.post(f"/{muni_a.code}/staff/bookings/{counter.pk}/bookings/{again.pk}/mark/", {"status": "no_show"})
    assert marked.status_code == 302
    with tenant(muni_a):
        assert Booking.objects.get(pk=again.pk).status == "no_show"
    viewer = Client()
    assert sign_in(viewer, muni_a, *viewer_a).status_code == 302
    assert viewer.post(f"/{muni_a.code}/staff/bookings/{counter.pk}/bookings/{again.pk}/mark/",
                       {"status": "visited"}).status_code == 403
    assert viewer.post(f"/{muni_a.code}/staff/bookings/", {"name": "y"}).status_code == 403


def test_a_reminder_is_sent_once_the_day_before(muni_a, counter):
    from madoguchi.notices.models import Delivery

    from madoguchi.notices.models import EmailAddress

    with tenant(muni_a):
        a, b = resident(1), resident(2)
        EmailAddress.objects.create(municipality=muni_a, person=a, address="a@example.jp",
                                    verified_at=dt.datetime.now(dt.timezone.utc))
        booking = services.book(a, counter.pk, at(8, 9), "転入", now=NOW)
        services.book(b, counter.pk, at(8, 9, 30), "転入", now=NOW)
    assert services.sweep(now=NOW) == 0  # more than 24 hours ahead
    day_before = at(7, 10)
    assert services.sweep(now=day_before) == 2
    assert services.sweep(now=day_before) == 0  # once
    with tenant(muni_a):
        assert Booking.objects.get(pk=booking.pk).reminded
        assert list(Delivery.objects.filter(person=a).values_list("channel", "kind", "link")) == [
            ("email", "bookings.reminder", f"/{muni_a.code}/bookings/")]
        assert not Delivery.objects.filter(person=b).exists()  # no channel reaches b: nothing, no error
