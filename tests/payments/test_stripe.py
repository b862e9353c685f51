"""The stripe provider through the `stripe` package against a local fake of Stripe's API
(tests/payments/fake_stripe.py, a real HTTP server): checkout, the webhook's signature, the
same event twice, events out of order, unknown types, a tampered amount, refunds, outages."""

import time

import pytest

from madoguchi.applications.models import Application
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments import services
from madoguchi.payments.models import Payment, PaymentEvent
from tests.applications.test_pages import signed_in

from .fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, sign


@pytest.fixture
def fake(settings):
    server = FakeStripe()
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = server.base_url
    yield server
    server.stop()


def hook(client, code, body, signature):
    return client.post(f"/{code}/payments/webhooks/stripe/", body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature)


def status_of(application):
    with tenant(application.municipality):
        return Application.objects.get(pk=application.pk).status


def started(client, owed, taro):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    response = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    with tenant(owed.municipality):
        payment = Payment.objects.get(application_id=owed.pk)
    return response, payment


def test_checkout_webhook_and_the_same_event_twice(client, owed, taro, fake):
    code = owed.municipality.code
    response, payment = started(client, owed, taro)
    session = fake.sessions[payment.provider_reference]
    assert response.status_code == 302 and response["Location"] == session["url"]
    assert session["amount_total"] == 1600 and session["currency"] == "jpy"
    assert session["success_url"] == f"http://testserver/{code}/payments/{payment.public_id}/"
    assert client.post(f"/{code}/applications/{owed.public_id}/pay/")["Location"] == session["url"]  # double tap
    assert len(fake.sessions) == 1
    fake.pay(payment.provider_reference)
    body = fake.event("checkout.session.completed", payment.provider_reference)
    first = hook(client, code, body, sign(body))
    assert first.status_code == 200 and first.json()["result"] == "succeeded"
    assert status_of(owed) == "received"
    again = hook(client, code, body, sign(body))
    assert again.status_code == 200
    with tenant(owed.municipality):
        assert PaymentEvent.objects.filter(payment=payment, to_status="succeeded").count() == 1
        assert owed.events.filter(to_status="received").count() == 1


def test_forged_or_stale_signatures_and_bad_bodies_are_refused(client, owed, taro, fake):
    code = owed.municipality.code
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    body = fake.event("checkout.session.completed", payment.provider_reference)
    forged = hook(client, code, body, sign(body, secret="whsec_not_ours"))
    assert forged.status_code == 400 and forged.json()["field"] == "Stripe-Signature"
    assert hook(client, code, body, "").status_code == 400
    stale = hook(client, code, body, sign(body, timestamp=int(time.time()) - 3600))  # a replay from an hour ago
    assert stale.status_code == 400
    garbage = b"not json"
    assert hook(client, code, garbage, sign(garbage)).json()["field"] == "body"
    assert status_of(owed) == "payment_required"
    assert client.get(f"/{code}/payments/webhooks/stripe/").status_code == 405


def test_out_of_order_unknown_types_and_unknown_sessions(client, owed, taro, fake):
    code = owed.municipality.code
    _response, payment = started(client, owed, taro)
    # "completed" arrives before the payment is settled at Stripe: the API says unpaid, nothing changes.
    early = fake.event("checkout.session.completed", payment.provider_reference)
    assert hook(client, code, early, sign(early)).json()["result"] == "pending"
    fake.pay(payment.provider_reference)
    # An expiry event sent late, after it was paid: the API's state (paid) wins.
    late = fake.event("checkout.session.expired", payment.provider_reference)
    assert hook(client, code, late, sign(late)).json()["result"] == "succeeded"
    assert status_of(owed) == "received"
    other = fake.event("customer.created", payment.provider_reference)
    assert hook(client, code, other, sign(other)).json()["result"] == "ignored"
    nobody = fake.event("checkout.session.completed", "cs_test_fake_nobody")
    assert hook(client, code, nobody, sign(nobody)).json()["result"] == "unknown"


def test_a_session_paid_with_another_amount_is_not_counted(client, owed, taro, fake):
    code = owed.municipality.code
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference, amount=1)
    body = fake.event("checkout.session.completed", payment.provider_reference)
    assert hook(client, code, body, sign(body)).json()["result"] == "failed"
    assert status_of(owed) == "payment_required"


def test_an_expired_session_leaves_the_application_payable(client, owed, taro, fake):
    code = owed.municipality.code
    _response, payment = started(client, owed, taro)
    fake.expire(payment.provider_reference)
    page = client.get(f"/{code}/payments/{payment.public_id}/")  # the return page asks the API
    assert "お支払いは完了していません" in page.content.decode()
    assert status_of(owed) == "payment_required"
    again = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    assert again.status_code == 302 and len(fake.sessions) == 2


def test_an_outage_at_checkout_is_a_clear_error_and_payable_later(client, owed, taro, fake):
    fake.fail_next = 1
    response, payment = started(client, owed, taro)
    assert response.status_code == 503 and "しばらくしてから" in response.content.decode()
    assert payment.status == "failed"
    again = client.post(f"/{owed.municipality.code}/applications/{owed.public_id}/pay/")
    assert again.status_code == 302 and again["Location"].startswith(fake.base_url)


def test_refunds_through_stripe(client, owed, taro, fake, cashier):
    user, _device = cashier
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    services.confirm(payment)
    with tenant(owed.municipality):
        payment.refresh_from_db()
    refund = services.refund(payment, user, amount_yen=600, reason="一部取消し")
    assert refund.provider_reference.startswith("re_fake_") and fake.refunds[0]["amount"] == 600
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=1001, reason="残り")
    assert exc.value.field == "amount_yen" and len(fake.refunds) == 1
    services.refund(payment, user, amount_yen=1000, reason="残り")
    with tenant(owed.municipality):
        payment.refresh_from_db()
    assert payment.status == "refunded" and sum(r["amount"] for r in fake.refunds) == 1600


def test_a_refund_whose_answer_is_lost_is_retried_never_doubled(client, owed, taro, fake, cashier):
    """The provider is called outside the transaction: an outage leaves the refund requested;
    a retry with the same idempotency key gets the refund the provider made already."""
    from madoguchi.applications.models import Notice
    from madoguchi.payments.models import Refund

    user, _device = cashier
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    services.confirm(payment)
    fake.fail_next = 1  # the session's retrieve answers 500: nothing reaches Stripe's refunds
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=1600, reason="取下げ")
    assert exc.value.status == 503 and not fake.refunds
    with tenant(owed.municipality):
        refund = Refund.objects.get(payment=payment)
        payment.refresh_from_db()
    assert (refund.status, refund.attempts, payment.refunded_yen) == ("requested", 1, 0)
    with pytest.raises(services.PaymentError) as exc:  # no second refund while one is in flight
        services.refund(payment, user, amount_yen=100, reason="別件")
    assert exc.value.code == "refund_in_flight"
    fake.lose_next_answer = 1  # Stripe refunds, its answer is lost: still requested
    with pytest.raises(services.PaymentError):
        services.retry_refund(payment, user)
    fake.requests.clear()
    assert len(fake.refunds) == 1
    with tenant(owed.municipality):
        refund.refresh_from_db()
        assert refund.status == "requested" and refund.attempts == 2
    done = services.retry_refund(payment, user)  # the same key: Stripe answers the same refund
    assert done.status == "succeeded" and done.provider_reference == fake.refunds[0]["id"]
    assert len(fake.refunds) == 1
    with tenant(owed.municipality):
        payment.refresh_from_db()
        assert payment.status == "refunded" and payment.refunded_yen == 1600
        assert Notice.objects.filter(application_id=owed.pk, kind="refunded").count() == 1
    with pytest.raises(services.PaymentError) as exc:
        services.retry_refund(payment, user)
    assert exc.value.code == "no_refund_in_flight"


def test_a_refund_the_provider_refuses_fails_and_frees_the_payment(client, owed, taro, fake, cashier):
    from madoguchi.payments.models import Refund

    user, _device = cashier
    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)
    services.confirm(payment)
    fake.refunds.append({"id": "re_fake_elsewhere", "amount": 1000,  # refunded in Stripe's dashboard
                         "payment_intent": fake.sessions[payment.provider_reference]["payment_intent"]})
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=1600, reason="取下げ")
    assert exc.value.code == "refund_refused" and exc.value.status == 502
    with tenant(owed.municipality):
        assert Refund.objects.get(payment=payment).status == "failed"
    services.refund(payment, user, amount_yen=600, reason="残り")
    with tenant(owed.municipality):
        payment.refresh_from_db()
    assert payment.status == "partially_refunded" and payment.refunded_yen == 600


def test_missing_keys_refuse_the_provider(client, owed, taro, settings):
    settings.PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_API_KEY = ""
    signed_in(client, owed.municipality, taro)
    response = client.post(f"/{owed.municipality.code}/applications/{owed.public_id}/pay/")
    assert response.status_code == 503
    with tenant(owed.municipality):
        assert not Payment.objects.exists()
    body = b"{}"
    assert hook(client, owed.municipality.code, body, sign(body)).status_code == 404


def test_the_sweep_expires_abandoned_checkouts_at_stripe(client, owed, taro, fake, settings, catalog_a):
    import datetime as dt

    from django.utils import timezone

    _response, payment = started(client, owed, taro)
    assert services.sweep() == {}  # not stale yet
    later = timezone.now() + dt.timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES + 1)
    fake.fail_next = 1  # Stripe away: the payment stays pending for the next sweep
    assert services.expire_abandoned(owed.municipality, now=later) == {"unreachable": 1}
    assert services.expire_abandoned(owed.municipality, now=later) == {"expired": 1}
    assert fake.sessions[payment.provider_reference]["status"] == "expired"
    assert ("POST", f"/v1/checkout/sessions/{payment.provider_reference}/expire") in fake.requests
    assert status_of(owed) == "payment_required"
    again = client.post(f"/{owed.municipality.code}/applications/{owed.public_id}/pay/")  # payable again
    assert again.status_code == 302 and len(fake.sessions) == 2


def test_the_sweep_finds_a_checkout_paid_meanwhile(client, owed, taro, fake, settings):
    import datetime as dt

    from django.utils import timezone

    _response, payment = started(client, owed, taro)
    fake.pay(payment.provider_reference)  # paid, but the webhook never came
    later = timezone.now() + dt.timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES + 1)
    assert services.expire_abandoned(owed.municipality, now=later) == {"succeeded": 1}
    assert status_of(owed) == "received"


def test_stripe_accounts_per_municipality(client, owed, taro, fake, settings):
    """Each municipality its own account: the key of STRIPE_ACCOUNTS for its code, and its
    webhook secret (another municipality's secret does not verify)."""
    code = owed.municipality.code
    settings.STRIPE_API_KEY = "sk_test_not_this_one"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_not_this_one"
    settings.STRIPE_ACCOUNTS = {code: {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}}
    response, payment = started(client, owed, taro)
    assert response.status_code == 302 and payment.status == "pending"  # the fake took the municipality's key
    fake.pay(payment.provider_reference)
    body = fake.event("checkout.session.completed", payment.provider_reference)
    assert hook(client, code, body, sign(body, secret="whsec_not_this_one")).status_code == 400
    assert hook(client, code, body, sign(body)).json()["result"] == "succeeded"


def test_the_pay_pages_csp_lets_the_form_go_to_stripes_checkout(client, owed, taro, fake, settings):
    """The 「お支払い」 POST is redirected to Stripe's hosted page; browsers check that redirect
    against the page's form-action (found by the browser test: it was blocked)."""
    signed_in(client, owed.municipality, taro)
    page = client.get(f"/{owed.municipality.code}/applications/{owed.public_id}/pay/")
    csp = page["Content-Security-Policy"]
    form_action = next(d for d in csp.split(";") if d.strip().startswith("form-action"))
    assert "'self'" in form_action and settings.STRIPE_CHECKOUT_ORIGIN in form_action
