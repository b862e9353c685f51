"""お知らせ配信, the service: a broadcast to a 町丁目 reaches exactly the residents linked to a
record there; a municipality-wide or emergency broadcast needs a second member of staff;
sent once; statistics per channel; bad input refused naming the field; every step audited."""

import dataclasses
import datetime as dt
import email
import email.policy

import pytest
from django.utils import timezone

from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import broadcasts
from madoguchi.notices.models import Broadcast, Delivery, InboxEntry
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
                                      body="12月10日 9時〜12時、本町一丁目で断水します。", segment="district",
                                      district="東京都窓口市本町一丁目")
        assert broadcasts.recipients(broadcast) == [taro.pk]
        assert not broadcasts.needs_second_approval(broadcast)
        with django_capture_on_commit_callbacks(execute=True):
            assert broadcasts.send(broadcast, creator) == 1  # one pair of eyes suffices for a district
    run_worker()
    (rcpts, raw), = smtp.messages
    assert rcpts == ["taro@example.jp"]
    assert parse(raw)["Subject"].strip() == "[市からのお知らせ] 本町一丁目で断水の予定があります"
    with tenant(muni_a):
        assert broadcasts.statistics(broadcast) == {"email": {"sent": 1, "waiting": 0}}
        assert InboxEntry.objects.filter(broadcast=broadcast).count() == 1  # in taro's お知らせ only
        [row] = broadcasts.inbox_rows(taro)
        assert (row["title"], row["body"], row["unread"]) == ("本町一丁目で断水の予定があります",
                                                             "12月10日 9時〜12時、本町一丁目で断水します。", True)
        assert broadcasts.inbox_rows(hanako) == []
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
                                      body="本町地区に避難指示を発令しました。", district="東京都窓口市本町")
        with pytest.raises(broadcasts.BroadcastError) as unapproved:
            broadcasts.send(broadcast, creator)
        assert unapproved.value.field == "status"
        with pytest.raises(broadcasts.BroadcastError) as own:
            broadcasts.approve(broadcast, creator)
        assert own.value.field == "approved_by"
        assert Broadcast.objects.get(pk=broadcast.pk).status == "draft"
        with pytest.raises(broadcasts.BroadcastError) as early:  # nor scheduled before approval
            broadcasts.schedule(broadcast, creator, timezone.now() + dt.timedelta(hours=1))
        assert early.value.field == "status"
        broadcasts.approve(broadcast, other)
        assert broadcasts.send(broadcast, creator) == 2
        assert AuditEvent.objects.filter(action="notices.broadcast_approved", actor_id=str(other.pk)).exists()


@pytest.mark.parametrize("changes, field, says", [
    ({"title": ""}, "title", "表題を入力してください。"), ({"title": "x" * 101}, "title", "100文字以内"),
    ({"title": "一行目\r\nBcc: x"}, "title", "1行"), ({"body": ""}, "body", "本文を入力してください。"),
    ({"body": "あ" * 2001}, "body", "2,000文字以内にしてください（今は2,001文字です）"),
    ({"body": "x" * 10 * 1024 * 1024}, "body", "2,000文字以内"),
    ({"body_en": "Water stops."}, "title_en", "英語の表題"),
    ({"category": "spam"}, "category", "分類を選んで"), ({"segment": "everyone"}, "segment", "配信先を選んで"),
    ({"segment": "district", "district": ""}, "district", "町丁目"),
    ({"segment": "district", "district": "町" * 101}, "district", "100文字以内"),
    ({"segment": "age"}, "age_min", "下限か上限"), ({"segment": "age", "age_min": 20, "age_max": 18}, "age_max", "上限は下限以上"),
    ({"segment": "age", "age_min": -1}, "age_min", "0〜150"), ({"segment": "children"}, "child_age_under", "1〜30"),
    ({"segment": "applicants", "procedure_slug": "nothing"}, "procedure_slug", "手続きを選んで"),
])
def test_bad_broadcasts_are_refused_naming_the_field(muni_a, two_staff, changes, field, says):
    creator, _other = two_staff
    values = {"title": "お知らせ", "body": "本文", "category": "announcements", "segment": "all", "district": "",
              **changes}
    with tenant(muni_a):
        with pytest.raises(broadcasts.BroadcastError) as refused:
            broadcasts.create(creator, **values)
        assert refused.value.field == field and says in str(refused.value)
        assert not Broadcast.objects.exists()


def test_the_legal_age_is_reached_the_day_before_the_birthday():
    # 年齢計算ニ関スル法律: the year is complete at the end of the day before the birthday.
    assert broadcasts.legal_age(dt.date(2008, 12, 6), dt.date(2026, 12, 4)) == 17
    assert broadcasts.legal_age(dt.date(2008, 12, 6), dt.date(2026, 12, 5)) == 18
    assert broadcasts.legal_age(dt.date(2008, 2, 29), dt.date(2026, 2, 27)) == 17
    assert broadcasts.legal_age(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 18  # common year
    assert broadcasts.years_before(dt.date(2028, 2, 29), 1) == dt.date(2027, 2, 28)


def person(muni_a, name, number, birth, household, *, status="resident"):
    someone = make_person(dataclasses.replace(TARO, name=name, birth=birth))
    link(muni_a, someone, number, household=household, birth=birth, status=status)
    return someone


def test_age_and_household_segments_follow_the_records(muni_a, two_staff):
    creator, _other = two_staff
    on = dt.date(2026, 12, 5)
    turns_18_tomorrow = person(muni_a, "明日　十八", "200001", dt.date(2008, 12, 6), "H20")  # 18 by law on the 5th
    turns_18_later = person(muni_a, "後日　十七", "200002", dt.date(2008, 12, 7), "H21")
    parent = person(muni_a, "親　一", "200003", dt.date(1990, 5, 5), "H22")
    child = person(muni_a, "子　一", "200004", dt.date(2022, 1, 1), "H22")
    alone = person(muni_a, "一人　暮", "200005", dt.date(1960, 1, 1), "H23")
    person(muni_a, "転出　済", "200006", dt.date(2008, 12, 1), "H24", status="moved_out")
    with tenant(muni_a):
        adults = broadcasts.create(creator, title="成人式のご案内", body="本文", category="announcements",
                                   segment="age", age_min=18, age_max=18, reference_date=on)
        assert broadcasts.recipients(adults) == [turns_18_tomorrow.pk]
        assert "2026年12月5日に18歳〜18歳の方" in broadcasts.segment_text(adults)
        elderly = broadcasts.create(creator, title="敬老", body="本文", category="announcements", segment="age",
                                    age_min=65, reference_date=on)
        assert broadcasts.recipients(elderly) == [alone.pk]
        young = broadcasts.create(creator, title="十代", body="本文", category="announcements", segment="age",
                                  age_max=17, reference_date=on)
        assert set(broadcasts.recipients(young)) == {turns_18_later.pk, child.pk}
        families = broadcasts.create(creator, title="子育て", body="本文", category="benefits", segment="children",
                                     child_age_under=6, reference_date=on)
        assert broadcasts.recipients(families) == [parent.pk]  # the child is left out, other households too
        assert AuditEvent.objects.filter(action="notices.broadcast_created").count() == 4


def test_applicants_of_a_procedure_in_a_status(catalog_a, taro, hanako, two_staff):
    from madoguchi.applications.services import submit
    from tests.applications.conftest import version_of
    from tests.applications.helpers import key
    from tests.applications.test_submit import sodai

    creator, _other = two_staff
    submit(version_of(catalog_a, "sodai-gomi"), taro, sodai(), idempotency_key=key())
    with tenant(catalog_a):
        waiting = broadcasts.create(creator, title="お支払いのお願い", body="本文", category="applications",
                                    segment="applicants", procedure_slug="sodai-gomi",
                                    application_status="payment_required")
        assert broadcasts.recipients(waiting) == [taro.pk]
        assert broadcasts.segment_text(waiting) == "「粗大ごみ収集 申込」の申請が「支払い待ち」の方"
        nobody = broadcasts.create(creator, title="x", body="本文", category="applications", segment="applicants",
                                   procedure_slug="sodai-gomi", application_status="completed")
        assert broadcasts.recipients(nobody) == []


def test_preview_counts_each_channel_before_anything_is_sent(muni_a, taro, hanako, two_staff):
    creator, _other = two_staff
    verified_address(muni_a, taro, "taro@example.jp")
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="お知らせ", body="本文", category="announcements", segment="all")
        preview = broadcasts.preview(broadcast)
        assert preview["inbox"] == 2
        assert {c["name"]: c["count"] for c in preview["channels"]} == {"email": 1, "push": 0}
        assert not Delivery.objects.exists() and not InboxEntry.objects.exists()


def test_a_test_send_goes_to_the_member_of_staff_only(muni_a, taro, two_staff, smtp):
    creator, _other = two_staff
    verified_address(muni_a, taro, "taro@example.jp")
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="断水のお知らせ", body="本町で断水します。", title_en="Water outage",
                                      body_en="Water stops in Honcho.", category="announcements", segment="all")
        with pytest.raises(broadcasts.BroadcastError) as no_address:
            broadcasts.send_test(broadcast, creator)
        assert no_address.value.field == "test" and "メールアドレスが登録されていません" in str(no_address.value)
        creator.email = "koho@city.example.jp"
        creator.save()
        assert broadcasts.send_test(broadcast, creator) == "koho@city.example.jp"
        (rcpts, raw), = smtp.messages
        assert rcpts == ["koho@city.example.jp"]
        mail = parse(raw)
        assert mail["Subject"].strip() == "【テスト送信】[市からのお知らせ] 断水のお知らせ"
        text = mail.get_content()
        assert "本町で断水します。" in text and "Water stops in Honcho." in text
        assert Broadcast.objects.get(pk=broadcast.pk).status == "draft" and not Delivery.objects.exists()
        assert AuditEvent.objects.filter(action="notices.broadcast_test_sent").count() == 1


def test_a_scheduled_broadcast_is_sent_once_by_the_sweep(muni_a, taro, two_staff, django_capture_on_commit_callbacks):
    creator, _other = two_staff
    now = timezone.now()
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="予約のお知らせ", body="本文", category="announcements",
                                      segment="district", district="東京都窓口市本町")
        for at, says in ((now - dt.timedelta(minutes=1), "今より後"), (now + dt.timedelta(days=91), "90日以内")):
            with pytest.raises(broadcasts.BroadcastError) as refused:
                broadcasts.schedule(broadcast, creator, at)
            assert refused.value.field == "scheduled_at" and says in str(refused.value)
        broadcasts.schedule(broadcast, creator, now + dt.timedelta(hours=1))
        broadcasts.cancel_schedule(broadcast, creator)
        assert Broadcast.objects.get(pk=broadcast.pk).status == "draft"
        broadcasts.schedule(broadcast, creator, now + dt.timedelta(hours=1))
    assert broadcasts.sweep(now) == 0  # not yet
    with django_capture_on_commit_callbacks(execute=True):
        assert broadcasts.sweep(now + dt.timedelta(hours=1, seconds=1)) == 1
    assert broadcasts.sweep(now + dt.timedelta(hours=2)) == 0  # once
    with tenant(muni_a):
        broadcast.refresh_from_db()
        assert (broadcast.status, broadcast.recipients) == ("sent", 1)
        sent = AuditEvent.objects.get(action="notices.broadcast_sent")
        assert sent.actor_type == "system" and sent.data["scheduled"] is True
        with pytest.raises(broadcasts.BroadcastError):
            broadcasts.cancel_schedule(broadcast, creator)


def test_the_inbox_in_english_and_marked_read(muni_a, taro, two_staff):
    creator, _other = two_staff
    with tenant(muni_a):
        broadcast = broadcasts.create(creator, title="断水", body="本町で断水します。", title_en="Water outage",
                                      body_en="Water stops.", category="announcements", segment="district",
                                      district="東京都窓口市本町")
        broadcasts.send(broadcast, creator)
        [row] = broadcasts.inbox_rows(taro, language="en")
        assert (row["title"], row["body"], row["lang"]) == ("Water outage", "Water stops.", "en")
        assert broadcasts.mark_inbox_read(taro) == 1 and broadcasts.mark_inbox_read(taro) == 0
        assert broadcasts.inbox_rows(taro)[0]["unread"] is False
        assert AuditEvent.objects.filter(action="notices.inbox_read").count() == 1


def test_a_segment_that_matches_nobody_sends_nothing(muni_a, taro, two_staff, django_capture_on_commit_callbacks):
    creator, _other = two_staff
    now = timezone.now()
    with tenant(muni_a):
        nobody = broadcasts.create(creator, title="x", body="本文", category="announcements", segment="district",
                                   district="北海道")
        with pytest.raises(broadcasts.BroadcastError) as refused:
            broadcasts.send(nobody, creator)
        assert refused.value.field == "segment" and "当てはまる住民がいません" in str(refused.value)
        broadcasts.schedule(nobody, creator, now + dt.timedelta(minutes=5))
    assert broadcasts.sweep(now + dt.timedelta(minutes=6)) == 0
    with tenant(muni_a):
        nobody.refresh_from_db()
        assert (nobody.status, nobody.scheduled_at) == ("draft", None)
        assert AuditEvent.objects.get(action="notices.broadcast_schedule_failed").data["reason"].startswith("この配信先")
        assert not Delivery.objects.exists() and not InboxEntry.objects.exists()
