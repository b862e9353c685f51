"""Web Push end to end against a local RFC 8030 push service that checks the VAPID JWT
against the municipality's applicationServerKey and decrypts the aes128gcm payload with
the subscription's private key; 404/410 removes the subscription; bad subscriptions are
refused naming the field."""

import json

from django.core.management import call_command

from madoguchi.applications.services import transition
from madoguchi.applications.statemachine import Role, Status
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices import services, vapid
from madoguchi.notices.models import Category, Delivery, PushSubscription
from tests.applications.test_pages import signed_in
from tests.documents.conftest import kikikanri_reviewer, submit_risai  # noqa: F401  (fixture)

from .conftest import run_worker



def subscribe(client, municipality, subscription, **headers):
    return client.post(f"/{municipality.code}/account/push/", json.dumps(subscription),
                       content_type="application/json", **headers)


def test_a_decision_reaches_each_subscribed_device_encrypted_and_vapid_signed(
        client, catalog_a, taro, kikikanri_reviewer, push_service, settings, django_capture_on_commit_callbacks):
    settings.NOTICE_CHANNELS = ["inbox", "push"]
    signed_in(client, catalog_a, taro)
    key = client.get(f"/{catalog_a.code}/notices/push/key").json()["applicationServerKey"]
    assert key == push_service.application_server_key
    phone, tablet = push_service.device(), push_service.device()
    for device in (phone, tablet):
        response = subscribe(client, catalog_a, device.subscription(push_service.base),
                             HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)")
        assert response.status_code == 201, response.content
    page = client.get(f"/{catalog_a.code}/account/").content.decode()
    assert page.count("iPhone") == 2

    reviewer, _device = kikikanri_reviewer
    with django_capture_on_commit_callbacks(execute=True):
        application = submit_risai(catalog_a, taro)
        with tenant(catalog_a):
            transition(application, Status.RECEIVED, role=Role.REVIEWER, actor=reviewer)
            transition(application, Status.APPROVED, role=Role.REVIEWER, actor=reviewer, comment="確認しました")
    run_worker()
    assert push_service.refused == []
    approved = [(d, p) for d, p in push_service.received if p["title"] == "申請の審査が終わりました"]
    assert sorted(d for d, _p in approved) == sorted([phone.id, tablet.id])
    payload = approved[0][1]
    assert payload == {"title": "申請の審査が終わりました", "category": "申請の状況",
                       "url": "https://madoguchi.example/139998/notices/"}
    assert len(push_service.received) == 6  # submitted, received, approved × 2 devices
    for _d, p in push_service.received:
        text = json.dumps(p, ensure_ascii=False)
        assert "太郎" not in text and application.receipt_number not in text and "確認しました" not in text
    with tenant(catalog_a):
        assert set(Delivery.objects.values_list("channel", "status")) == {("push", "sent")}


def test_a_gone_subscription_is_removed_and_the_others_still_receive(
        client, muni_a, taro, push_service, django_capture_on_commit_callbacks):
    signed_in(client, muni_a, taro)
    kept, expired = push_service.device(), push_service.device()
    for device in (kept, expired):
        assert subscribe(client, muni_a, device.subscription(push_service.base)).status_code == 201
    push_service.gone.add(expired.id)  # answers 410 Gone
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(muni_a):
            (delivery,) = services.enqueue([taro.pk], channel_name="push", category=Category.EMERGENCY,
                                           kind="application.returned", link="/139998/notices/")
    run_worker()
    with tenant(muni_a):
        delivery.refresh_from_db()
        assert delivery.status == "sent"
        assert [s.endpoint for s in PushSubscription.objects.all()] == [kept.subscription(push_service.base)["endpoint"]]
        assert AuditEvent.objects.filter(action="notices.push_removed", data__by="push service").count() == 1
    assert [d for d, _p in push_service.received] == [kept.id]
    # The last device gone too: the delivery fails permanently and nothing is left.
    push_service.gone.add(kept.id)
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(muni_a):
            (delivery,) = services.enqueue([taro.pk], channel_name="push", category=Category.EMERGENCY,
                                           kind="application.returned", link="/139998/notices/")
    run_worker()
    with tenant(muni_a):
        delivery.refresh_from_db()
        assert delivery.status == "failed" and "no subscribed device left" in delivery.last_error
        assert not PushSubscription.objects.exists()


def push_emergency(municipality, person, capture):
    with capture(execute=True):
        with tenant(municipality):
            (delivery,) = services.enqueue([person.pk], channel_name="push", category=Category.EMERGENCY,
                                           kind="application.returned", link="/139998/notices/")
    run_worker()
    with tenant(municipality):
        delivery.refresh_from_db()
    return delivery


def test_a_rotated_key_keeps_the_old_subscriptions_until_the_previous_key_is_retired(
        client, muni_a, taro, push_service, django_capture_on_commit_callbacks):
    """The push service binds a subscription to the key it was made with (a push signed
    with another key is refused — the check can fail). After `--rotate` the old device is
    still pushed with the old key, a device subscribing anew uses the new one; retiring the
    previous keys removes the old device (it must subscribe again)."""
    signed_in(client, muni_a, taro)
    old_key = vapid.public_key(muni_a.code)
    old = push_service.device()
    assert subscribe(client, muni_a, old.subscription(push_service.base)).status_code == 201
    call_command("notices_vapid", muni_a.code, rotate=True)
    new_key = vapid.public_key(muni_a.code)
    assert new_key != old_key and client.get(f"/{muni_a.code}/notices/push/key").json() == {
        "applicationServerKey": new_key}
    assert vapid.known_public_keys(muni_a.code) == [new_key, old_key]
    with tenant(muni_a):
        assert PushSubscription.objects.get().vapid_key == old_key  # stamped at the rotation
    new = push_service.device(server_key=new_key)
    assert subscribe(client, muni_a, {**new.subscription(push_service.base), "applicationServerKey": new_key}
                     ).status_code == 201
    # A page naming a key the municipality does not have is refused, naming the field.
    stranger = push_service.device()
    response = subscribe(client, muni_a, {**stranger.subscription(push_service.base), "applicationServerKey": "AAAA"})
    assert response.status_code == 400 and response.json()["field"] == "applicationServerKey"

    delivery = push_emergency(muni_a, taro, django_capture_on_commit_callbacks)
    assert delivery.status == "sent" and push_service.refused == []
    assert sorted(d for d, _p in push_service.received) == sorted([old.id, new.id])

    # Pushing the old device with the new key is refused by the push service: the check works.
    assert push_service.check_vapid("vapid t=a.b.c, k=" + new_key, old.server_key) == \
        "k is not the application server key"

    call_command("notices_vapid", muni_a.code, retire_previous=True)
    assert vapid.known_public_keys(muni_a.code) == [new_key]
    with tenant(muni_a):
        assert [s.vapid_key for s in PushSubscription.objects.all()] == [new_key]
        assert AuditEvent.objects.filter(action="notices.push_removed", data__by="vapid key retired").count() == 1
        assert AuditEvent.objects.filter(action="notices.vapid_retired").count() == 1
    push_service.received.clear()
    delivery = push_emergency(muni_a, taro, django_capture_on_commit_callbacks)
    assert delivery.status == "sent" and [d for d, _p in push_service.received] == [new.id]


def test_bad_subscriptions_are_refused_naming_the_field(client, muni_a, taro, push_service, settings):
    signed_in(client, muni_a, taro)
    good = push_service.device().subscription(push_service.base)
    cases = [
        ({**good, "endpoint": "ftp://push.example/x"}, "endpoint"),
        ({**good, "endpoint": "not a url"}, "endpoint"),
        ({**good, "endpoint": "https://push.example/" + "x" * 1000}, "endpoint"),
        ({"endpoint": good["endpoint"]}, "keys"),
        ({**good, "keys": {**good["keys"], "p256dh": "!!!"}}, "keys.p256dh"),
        ({**good, "keys": {**good["keys"], "p256dh": "BA" + "A" * 85}}, "keys.p256dh"),  # 65 bytes, not on the curve
        ({**good, "keys": {**good["keys"], "auth": "AAAA"}}, "keys.auth"),
        ([1, 2], "subscription"),
    ]
    for subscription, field in cases:
        response = subscribe(client, muni_a, subscription)
        assert response.status_code == 400 and response.json()["field"] == field, (subscription, response.content)
        assert response.json()["error"].startswith(field + ":")
    response = client.post(f"/{muni_a.code}/account/push/", b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "subscription"
    # Outside the test configuration an http endpoint is refused.
    settings.NOTICES_PUSH_INSECURE_ENDPOINTS = False
    response = subscribe(client, muni_a, good)
    assert response.status_code == 400 and response.json()["field"] == "endpoint"
    with tenant(muni_a):
        assert not PushSubscription.objects.exists()
    # Signed out: no subscription.
    client.logout()
    client.cookies.clear()
    settings.NOTICES_PUSH_INSECURE_ENDPOINTS = True
    assert subscribe(client, muni_a, good).status_code in (302,)


def test_a_device_is_removed_from_the_account_page_only_by_its_owner(client, muni_a, taro, hanako, push_service):
    signed_in(client, muni_a, taro)
    assert subscribe(client, muni_a, push_service.device().subscription(push_service.base)).status_code == 201
    with tenant(muni_a):
        (row,) = PushSubscription.objects.all()
    other = client.__class__()
    signed_in(other, muni_a, hanako)
    assert other.post(f"/{muni_a.code}/account/push/{row.pk}/remove/").status_code == 302
    with tenant(muni_a):
        assert PushSubscription.objects.filter(pk=row.pk).exists()
    assert client.post(f"/{muni_a.code}/account/push/{row.pk}/remove/").status_code == 302
    with tenant(muni_a):
        assert not PushSubscription.objects.exists()


def test_the_vapid_command_creates_once_and_rotates_on_request(muni_a, settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path / "data"
    call_command("notices_vapid", muni_a.code)
    first = vapid.public_key(muni_a.code)
    assert "created" in capsys.readouterr().out and oct(vapid.path_of(muni_a.code).stat().st_mode)[-3:] == "600"
    call_command("notices_vapid", muni_a.code)
    assert vapid.public_key(muni_a.code) == first and "kept" in capsys.readouterr().out
    call_command("notices_vapid", muni_a.code, rotate=True)
    assert vapid.public_key(muni_a.code) != first
    assert "1 previous key(s) kept" in capsys.readouterr().out
    assert vapid.known_public_keys(muni_a.code)[1] == first


def test_the_portal_is_an_installable_app_with_a_service_worker_scoped_to_the_municipality(client, muni_a):
    page = client.get(f"/{muni_a.code}/").content.decode()
    assert f'<link rel="manifest" href="/{muni_a.code}/manifest.webmanifest">' in page
    response = client.get(f"/{muni_a.code}/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["scope"] == manifest["start_url"] == f"/{muni_a.code}/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get(f"/{muni_a.code}/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert 'addEventListener("push"' in worker.content.decode()



def test_the_account_page_is_csp_clean_its_push_script_a_file(client, muni_a, taro):
    signed_in(client, muni_a, taro)
    response = client.get(f"/{muni_a.code}/account/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.content.decode()
    assert '<script src="/static/notices/push.js" defer></script>' in page
    assert page.count("<script") == page.count("<script src=")  # no inline script
    assert "通知を受け取る" in page and "登録されている端末はありません。" in page


def test_the_demo_creates_each_municipality_s_vapid_key(db, settings, tmp_path):
    from madoguchi.demo.services import DEMO_MUNICIPALITIES

    settings.DATA_DIR = tmp_path / "data"
    assert all(vapid.public_key(spec["code"]) is None for spec in DEMO_MUNICIPALITIES)
    call_command("demo")
    assert all(vapid.public_key(spec["code"]) for spec in DEMO_MUNICIPALITIES)


def test_an_eleventh_device_is_refused_and_a_device_changing_hands_moves(client, muni_a, taro, hanako, push_service):
    signed_in(client, muni_a, taro)
    devices = [push_service.device() for _ in range(11)]
    for device in devices[:10]:
        assert subscribe(client, muni_a, device.subscription(push_service.base)).status_code == 201
    response = subscribe(client, muni_a, devices[10].subscription(push_service.base))
    assert response.status_code == 400 and response.json()["field"] == "endpoint"
    # The same device again is an update, not an eleventh.
    assert subscribe(client, muni_a, devices[0].subscription(push_service.base)).status_code == 201
    other = client.__class__()
    signed_in(other, muni_a, hanako)
    assert subscribe(other, muni_a, devices[0].subscription(push_service.base)).status_code == 201
    with tenant(muni_a):
        assert PushSubscription.objects.filter(person=taro).count() == 9
        assert PushSubscription.objects.get(endpoint=devices[0].subscription(push_service.base)["endpoint"]).person == hanako


def test_the_vapid_command_refuses_an_unknown_municipality_with_exit_2(db, settings, tmp_path, capsys):
    from madoguchi.cli import manage

    settings.DATA_DIR = tmp_path / "data"
    assert manage("notices_vapid", "000000") == 2
    assert capsys.readouterr().err == "madoguchi: code 000000: no such municipality\n"
    assert not (tmp_path / "data" / "vapid").exists()


def test_the_vapid_command_refuses_rotate_and_retire_together_with_exit_2(muni_a, settings, tmp_path, capsys):
    from madoguchi.cli import manage

    settings.DATA_DIR = tmp_path / "data"
    assert manage("notices_vapid", muni_a.code, "--rotate", "--retire-previous") == 2
    assert capsys.readouterr().err.startswith("madoguchi: --rotate and --retire-previous: one at a time")
    assert not (tmp_path / "data" / "vapid").exists()
