"""E-mail notices end to end over real SMTP (aiosmtpd): the address registered on the
account page and verified by the link of a mail, a transition's notice as multipart text +
HTML with one-click unsubscribe (RFC 8058), a 5xx answer marking the address invalid, and
bad input refused with the field named."""

import email
import email.policy
import re

from django.test import override_settings

from madoguchi.applications.services import transition
from madoguchi.applications.statemachine import Role, Status
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.notices.models import Delivery, EmailAddress
from tests.applications.test_pages import signed_in
from tests.documents.conftest import kikikanri_reviewer, submit_risai  # noqa: F401  (fixture)

from tests.individual_numbers import DEMO_INDIVIDUAL_NUMBERS

from .conftest import run_worker, verified_address




def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(mail) -> dict:
    return {p.get_content_type(): p.get_content() for p in mail.walk() if not p.is_multipart()}


def test_register_verify_by_link_then_a_decision_arrives_by_mail(client, catalog_a, taro, kikikanri_reviewer, smtp,
                                                                django_capture_on_commit_callbacks, settings):
    settings.NOTICE_CHANNELS = ["inbox", "email"]
    signed_in(client, catalog_a, taro)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/{catalog_a.code}/account/email/", {"email": "taro@example.jp"})
    assert response.status_code == 302
    run_worker()
    (rcpts, raw), = smtp.messages
    mail = parse(raw)
    assert rcpts == ["taro@example.jp"] and mail["Subject"].strip() == "メールアドレスの確認"
    text = parts(mail)["text/plain"]
    (link,) = re.findall(r"https://madoguchi\.example(/139998/notices/email/verify/[^/\s]+/)", text)
    assert link in parts(mail)["text/html"]
    page = client.get(f"/{catalog_a.code}/account/")
    assert "確認待ち" in page.content.decode()
    # GET only shows a button (a mail scanner fetching the link verifies nothing); POST verifies.
    anonymous = client.__class__()
    assert anonymous.get(link).status_code == 200
    with tenant(catalog_a):
        assert EmailAddress.objects.get(person=taro).verified_at is None
    assert anonymous.post(link).status_code == 200
    with tenant(catalog_a):
        assert EmailAddress.objects.get(person=taro).verified_at is not None
        assert AuditEvent.objects.filter(action="notices.email_verified").count() == 1
    assert "確認済み" in client.get(f"/{catalog_a.code}/account/").content.decode()

    reviewer, _device = kikikanri_reviewer
    with django_capture_on_commit_callbacks(execute=True):
        application = submit_risai(catalog_a, taro)
        with tenant(catalog_a):
            transition(application, Status.RECEIVED, role=Role.REVIEWER, actor=reviewer)
            transition(application, Status.RETURNED, role=Role.REVIEWER, actor=reviewer, comment="写真が不鮮明です")
    run_worker()
    with tenant(catalog_a):
        assert set(Delivery.objects.values_list("kind", "status")) == {
            ("application.submitted", "sent"), ("application.received", "sent"), ("application.returned", "sent")}
    mails = [parse(raw) for _r, raw in smtp.messages[1:]]
    returned = next(m for m in mails if "補正" in m["Subject"])
    assert returned["Subject"].strip() == "[申請の状況] 申請内容の補正をお願いします"
    body = parts(returned)
    assert set(body) == {"text/plain", "text/html"}
    assert "https://madoguchi.example/139998/notices/" in body["text/plain"]
    # Never a name, the application's data or its receipt number; no individual number.
    for _r, raw in smtp.messages[1:]:
        decoded = str(parse(raw)) + "".join(parts(parse(raw)).values())
        assert "太郎" not in decoded and "写真" not in decoded and application.receipt_number not in decoded
        assert "窓口市" in decoded
        assert not any(n.encode() in raw for n in DEMO_INDIVIDUAL_NUMBERS)
    # RFC 8058: List-Unsubscribe (https) and List-Unsubscribe-Post; a POST of exactly that body unsubscribes.
    assert returned["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (unsubscribe,) = re.findall(r"<https://madoguchi\.example(/[^>]+)>", returned["List-Unsubscribe"].replace("\n ", ""))
    response = client.__class__(enforce_csrf_checks=True).post(unsubscribe, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with tenant(catalog_a):
        assert EmailAddress.objects.get(person=taro).unsubscribed_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(catalog_a):
            transition(application, Status.WITHDRAWN, role=Role.RESIDENT, actor=taro)
    run_worker()
    assert len(smtp.messages) == 4  # nothing after the unsubscription
    assert "配信停止中" in client.get(f"/{catalog_a.code}/account/").content.decode()


def test_a_permanent_smtp_failure_marks_the_address_invalid(muni_a, taro, smtp, django_capture_on_commit_callbacks):
    from madoguchi.notices import services
    from madoguchi.notices.models import Category

    verified_address(muni_a, taro, "bounce@example.jp")  # the server answers 550
    with django_capture_on_commit_callbacks(execute=True):
        with tenant(muni_a):
            (delivery,) = services.enqueue([taro.pk], channel_name="email", category=Category.APPLICATIONS,
                                           kind="application.approved", link="/139998/notices/")
    run_worker()
    with tenant(muni_a):
        delivery.refresh_from_db()
        address = EmailAddress.objects.get(person=taro)
        assert (delivery.status, delivery.attempts) == ("failed", 1) and "SMTP 550" in delivery.last_error
        assert address.invalid_at is not None and "550" in address.invalid_reason
        assert AuditEvent.objects.filter(action="notices.email_invalid").count() == 1
        # Never used again: a new notice finds no one to send to.
        assert services.enqueue([taro.pk], channel_name="email", category=Category.APPLICATIONS,
                                kind="application.approved", link="/139998/notices/") == []
    assert smtp.messages == []


def test_a_malformed_address_is_refused_naming_the_field(client, muni_a, taro):
    signed_in(client, muni_a, taro)
    for bad in ["not-an-address", "", "a@" + "b" * 260 + ".jp", "taro@example.jp\r\nBcc: x@example.jp"]:
        response = client.post(f"/{muni_a.code}/account/email/", {"email": bad})
        assert response.status_code == 400
        page = response.content.decode()
        assert "メールアドレスの形式が正しくありません。" in page and 'aria-invalid="true"' in page
    with tenant(muni_a):
        assert not EmailAddress.objects.exists()


def test_a_forged_or_foreign_link_does_nothing(client, muni_a, muni_b, taro, smtp):
    address = verified_address(muni_a, taro, "taro@example.jp")
    from madoguchi.notices import emails

    with tenant(muni_a):
        token = emails._token(address, emails.UNSUBSCRIBE_SALT)
        verify_token = emails._token(address, emails.VERIFY_SALT)
    assert client.post(f"/{muni_a.code}/notices/email/unsubscribe/{token}x/", {}).status_code == 400
    assert client.post(f"/{muni_b.code}/notices/email/unsubscribe/{token}/", {}).status_code == 400
    # A verification token is not an unsubscription token (separate salts).
    assert client.post(f"/{muni_a.code}/notices/email/unsubscribe/{verify_token}/", {}).status_code == 400
    with tenant(muni_a):
        address.address = "other@example.jp"  # a link for an earlier address does nothing
        address.save()
    assert client.post(f"/{muni_a.code}/notices/email/unsubscribe/{token}/", {}).status_code == 400
    with tenant(muni_a):
        assert EmailAddress.objects.get(person=taro).unsubscribed_at is None


@override_settings(NOTICE_CHANNELS=["inbox", "fax"])
def test_an_unknown_notice_channel_is_refused_naming_the_known_ones():
    from django.core.exceptions import ImproperlyConfigured

    from madoguchi.applications.notices import channels

    try:
        channels()
    except ImproperlyConfigured as exc:
        assert str(exc) == "NOTICE_CHANNELS: unknown notice channel 'fax'; known: email, inbox, push"
    else:
        raise AssertionError("fax was accepted")
