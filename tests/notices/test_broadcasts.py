"""お知らせ配信, the service: a broadcast to a 町丁目 reaches exactly the residents linked to a
record there; a municipality-wide or emergency broadcast needs a second member of staff;
sent once; statistics per channel; bad input refused naming the field; every step audited."""

import dataclasses
import email
import email.policy

import pytest

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import broadcasts
from madoguchi.notices.models import Broadcast, Delivery
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.applications.conftest import link, make_person
from tests.ceremonies.conftest import TARO

from .conftest import run_worker, verified_address


@pytest.fixture
def two_staff(muni_a):
    a, *_ = enrol_staff(muni_a, "koho-a", Membership.Role.ADMINISTRATOR, None, password="x" * 20)
    b, *_ = enrol_staff(muni_a, "koho-b", Membership.Role.ADMINISTRATOR, None, password="x" * 20)
    return a, b


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_a_district_broadcast_reaches_exactly_that_district(muni_a, taro, hanako, two_staff, smtp,
                                                            django_capture_on_commit_callbacks):
    creator, _other = two_staff
    moved = make_person(dataclasses.replace(TARO, name="転出　次郎"))
    link(muni_a, moved, "100009", household="H9", status="moved_out")  # 本町一丁目, but moved out
    for person, address in ((taro, "taro@example.jp"), (hanako, "hanako@example.jp"), (moved, "jiro@example.jp")):
        verified_address(muni_a, person, address)
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="本町一丁目で断水の予定があります", category="announcements",
                                      segment="district", district="東京都窓口市本町一丁目")
        assert broadcasts.recipients(broadcast) == [taro.pk]
        assert not broadcasts.needs_second_approval(broadcast)
        with django_capture_on_commit_callbacks(execute=True):
            assert broadcasts.send(broadcast, creator) == 1  # one pair of eyes suffices for a district
    run_worker()
    (rcpts, raw), = smtp.messages
    assert rcpts == ["taro@example.jp"]
    assert parse(raw)["Subject"].strip() == "[市からのお知らせ] 本町一丁目で断水の予定があります"
    with tenant(muni_a):
        assert broadcasts.statistics(broadcast) == {"email": {"sent": 1}}
        broadcast.refresh_from_db()
        assert (broadcast.status, broadcast.recipients) == ("sent", 1)
        with pytest.raises(broadcasts.BroadcastError) as twice:
            broadcasts.send(broadcast, creator)
        assert twice.value.field == "status"
        assert Delivery.objects.count() == 1
        assert [e.action for e in AuditEvent.objects.filter(action__startswith="notices.broadcast")
                .order_by("seq")] == ["notices.broadcast_created", "notices.broadcast_sent"]


@pytest.mark.parametrize("segment, category", [("all", "announcements"), ("district", "emergency")])
def test_a_municipality_wide_or_emergency_broadcast_needs_a_second_member_of_staff(
        muni_a, taro, hanako, two_staff, segment, category):
    creator, other = two_staff
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="避難指示を発令しました", category=category, segment=segment,
                                      district="東京都窓口市本町")
        with pytest.raises(broadcasts.BroadcastError) as unapproved:
            broadcasts.send(broadcast, creator)
        assert unapproved.value.field == "status"
        with pytest.raises(broadcasts.BroadcastError) as own:
            broadcasts.approve(broadcast, creator)
        assert own.value.field == "approved_by"
        assert Broadcast.objects.get(pk=broadcast.pk).status == "draft"
        broadcasts.approve(broadcast, other)
        assert broadcasts.send(broadcast, creator) == 2
        assert AuditEvent.objects.filter(action="notices.broadcast_approved", actor_id=str(other.pk)).exists()


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"), ({"title": "x" * 101}, "title"), ({"title": "一行目\r\nBcc: x"}, "title"),
    ({"category": "spam"}, "category"), ({"segment": "everyone"}, "segment"),
    ({"segment": "district", "district": ""}, "district"), ({"segment": "district", "district": "町" * 101}, "district"),
])
def test_bad_broadcasts_are_refused_naming_the_field(muni_a, two_staff, changes, field):
    creator, _other = two_staff
    values = {"title": "お知らせ", "category": "announcements", "segment": "all", "district": "", **changes}
    with tenant(muni_a):
        with pytest.raises(broadcasts.BroadcastError) as refused:
            broadcasts.create(creator, **values)
        assert refused.value.field == field and str(refused.value).startswith(field + ":")
        assert not Broadcast.objects.exists()
