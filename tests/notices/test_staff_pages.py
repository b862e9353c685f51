"""The back-office pages of broadcasts: an administrator composes a municipality-wide
broadcast and sees the recipient count; sending before a second administrator approved it is
refused (409, the reason shown); after approval it is sent and the statistics show; a bad
draft is a 400 naming the field; a viewer gets 403."""

from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices.models import Broadcast
from madoguchi.staff.models import Membership
from madoguchi.staff.services import enrol_staff
from tests.conftest import PASSWORD, sign_in

from .conftest import verified_address


def test_compose_approve_send_on_the_back_office_pages(client, muni_a, admin_a, taro, hanako, smtp,
                                                      django_capture_on_commit_callbacks):
    verified_address(muni_a, taro, "taro@example.jp")
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    base = f"/{muni_a.code}/staff/broadcasts/"
    assert "お知らせ配信" in client.get(f"/{muni_a.code}/staff/").content.decode()
    bad = client.post(base, {"title": "", "body": "", "category": "emergency", "segment": "all"})
    assert bad.status_code == 400 and 'id="id_title-error"' in bad.content.decode()
    assert '<a href="#id_body">' in bad.content.decode()  # the summary links to each field to fix
    age = client.post(base, {"title": "t", "body": "b", "category": "announcements", "segment": "age"})
    assert age.status_code == 400 and "年齢の下限か上限を入力してください。" in age.content.decode()
    response = client.post(base, {"title": "避難所を開設しました", "body": "市立体育館を避難所として開設しました。",
                                  "title_en": "Shelter opened", "body_en": "The city gym is open as a shelter.",
                                  "category": "emergency", "segment": "all"})
    assert response.status_code == 302
    detail = response["Location"]
    page = client.get(detail).content.decode()
    assert "[防災・緊急] 避難所を開設しました" in page and "市立体育館を避難所として開設しました。" in page
    assert "<td>お知らせのページ</td><td>2</td>" in page and "<td>メール</td><td>1</td>" in page  # taro and hanako
    assert "作成したあなたは承認できません" in page and "今すぐ配信する" not in page
    refused = client.post(detail + "send/")
    assert refused.status_code == 409 and "別の職員の承認が必要です" in refused.content.decode()
    own = client.post(detail + "approve/")
    assert own.status_code == 409 and "作成した職員とは別の職員" in own.content.decode()

    second = client.__class__()
    user, _m, device, _ = enrol_staff(muni_a, "koho-second", Membership.Role.ADMINISTRATOR, None, password=PASSWORD)
    assert sign_in(second, muni_a, user, device).status_code == 302
    queue = second.get(base).content.decode()  # the second administrator's approval queue lists it
    assert "あなたの承認を待っている配信" in queue and detail.split(base)[1] in queue
    assert "あなたの承認を待っている配信" not in client.get(base).content.decode()  # not the author's
    assert second.post(detail + "approve/").status_code == 302
    assert "あなたの承認を待っている配信" not in second.get(base).content.decode()
    late = client.post(detail + "schedule/", {"scheduled_at": "2020-01-01T09:00"})
    assert late.status_code == 400 and "配信日時は今より後にしてください" in late.content.decode()
    assert client.post(detail + "schedule/", {"scheduled_at": "tomorrow"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(detail + "send/").status_code == 302
    page = client.get(detail).content.decode()
    assert "配信の状況" in page and "<td>メール</td><td>1</td>" in page and 'hx-get="' in page  # refreshes
    table = client.get(detail + "statistics/").content.decode()
    assert 'id="broadcast-statistics"' in table and "<td>メール</td><td>1</td>" in table
    with tenant(muni_a):
        assert Broadcast.objects.get().status == "sent"
    assert client.post(detail + "send/").status_code == 409  # never twice


def test_a_viewer_cannot_open_broadcasts(client, muni_a, viewer_a):
    assert sign_in(client, muni_a, *viewer_a).status_code == 302
    assert client.get(f"/{muni_a.code}/staff/broadcasts/").status_code == 403


def test_test_send_schedule_and_the_resident_s_inbox(client, muni_a, admin_a, taro, smtp):
    from tests.applications.test_pages import signed_in

    user, *_ = admin_a
    user.email = "koho@city.example.jp"
    user.save()
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    base = f"/{muni_a.code}/staff/broadcasts/"
    detail = client.post(base, {"title": "本町の断水", "body": "12月10日に断水します。", "category": "announcements",
                                "segment": "district", "district": "東京都窓口市本町"})["Location"]
    sent = client.post(detail + "test/", follow=True)
    assert "テストのメールを koho@city.example.jp に送りました。" in sent.content.decode()
    assert [r for r, _raw in smtp.messages] == [["koho@city.example.jp"]]
    assert client.post(detail + "schedule/", {"scheduled_at": "2099-01-01T09:00"}).status_code == 400  # > 90 days
    import datetime as dt

    from django.utils import timezone

    soon = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.post(detail + "schedule/", {"scheduled_at": soon}).status_code == 302
    page = client.get(detail).content.decode()
    assert "配信予約済み" in page and "予約を取り消す" in page
    with tenant(muni_a):
        broadcast = Broadcast.objects.get()
        assert broadcast.status == "scheduled"
        from madoguchi.notices import broadcasts

        broadcasts.send(broadcast, None)
    resident = client.__class__()
    signed_in(resident, muni_a, taro)
    inbox = resident.get(f"/{muni_a.code}/notices/").content.decode()
    assert "市からのお知らせ" in inbox and "12月10日に断水します。" in inbox and "未読" in inbox
    assert "お知らせのページで読んだ住民: 0人" in client.get(detail).content.decode()
    assert resident.post(f"/{muni_a.code}/notices/read/").status_code == 302
    assert "未読" not in resident.get(f"/{muni_a.code}/notices/").content.decode()
    assert "お知らせのページで読んだ住民: 1人" in client.get(detail).content.decode()


def test_another_municipality_s_broadcast_is_not_found(client, muni_a, muni_b, admin_a, admin_b):
    from madoguchi.notices import broadcasts

    with tenant(muni_b):
        theirs = broadcasts.create(admin_b[0], title="見本町から", body="本文", category="announcements", segment="all")
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    for tail in ("", "statistics/"):
        assert client.get(f"/{muni_a.code}/staff/broadcasts/{theirs.public_id}/{tail}").status_code == 404
    for tail in ("approve/", "send/", "test/"):
        assert client.post(f"/{muni_a.code}/staff/broadcasts/{theirs.public_id}/{tail}").status_code == 404
    with tenant(muni_b):
        assert Broadcast.objects.get().status == "draft"


def test_a_10_mb_message_is_refused_with_a_clear_page(client, muni_a, admin_a):
    assert sign_in(client, muni_a, *admin_a).status_code == 302
    response = client.post(f"/{muni_a.code}/staff/broadcasts/", {"title": "大きい", "body": "あ" * (10 * 1024 * 1024 // 3),
                                                               "category": "announcements", "segment": "all"})
    assert response.status_code == 413
    assert "送信された内容が大きすぎます" in response.content.decode() and "2MB" in response.content.decode()
    with tenant(muni_a):
        assert not Broadcast.objects.exists()


def test_an_administrator_sets_and_removes_quiet_hours_on_a_page(client, muni_a, admin_a, viewer_a):
    import datetime as dt

    from madoguchi.audit.models import AuditEvent
    from madoguchi.notices import quiet

    assert sign_in(client, muni_a, *admin_a).status_code == 302
    url = f"/{muni_a.code}/staff/broadcasts/quiet-hours/"
    assert "夜間の一時停止" in client.get(f"/{muni_a.code}/staff/broadcasts/").content.decode()
    page = client.get(url).content.decode()
    assert "いまの設定: 止めていません" in page
    missing = client.post(url, {"enabled": "on", "start": "21:00"})
    assert missing.status_code == 400 and "再開する時刻を入力してください。" in missing.content.decode()
    assert '<a href="#id_end">' in missing.content.decode()
    bad = client.post(url, {"enabled": "on", "start": "25:00", "end": "08:00"})
    assert bad.status_code == 400 and "時刻は 21:00 のように入力してください。" in bad.content.decode()
    same = client.post(url, {"enabled": "on", "start": "08:00", "end": "08:00"})
    assert same.status_code == 400 and "違う時刻" in same.content.decode()
    assert quiet.hours_of(muni_a) is None  # nothing half-written
    assert client.post(url, {"enabled": "on", "start": "21:30", "end": "07:00"}).status_code == 302
    assert quiet.hours_of(muni_a) == (dt.time(21, 30), dt.time(7, 0))
    assert "毎日 21:30〜07:00（日本時間）" in client.get(url).content.decode()
    assert client.post(url, {"start": "21:30", "end": "07:00"}).status_code == 302  # unchecked: off
    assert quiet.hours_of(muni_a) is None
    with tenant(muni_a):
        assert AuditEvent.objects.filter(action="notices.quiet_hours_changed").count() == 2

    viewer = client.__class__()
    assert sign_in(viewer, muni_a, *viewer_a).status_code == 302
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"enabled": "on", "start": "21:00", "end": "08:00"}).status_code == 403
