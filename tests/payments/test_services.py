"""The payment core: the demo provider's round trip, the application's transition in the
payment's transaction, the one-live-payment constraint, 窓口払い and refunds."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from madoguchi.applications import notices
from madoguchi.applications.models import Application, Notice
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments import services
from madoguchi.payments.models import AppendOnly, DemoCheckout, Payment, PaymentEvent
from madoguchi.payments.providers import base as providers
from madoguchi.registry import UnknownName


def back(p):
    return f"/139998/payments/{p.public_id}/"


def pay_at_demo(payment, state="paid"):
    with tenant(payment.municipality):
        DemoCheckout.objects.filter(reference=payment.provider_reference).update(state=state)


def test_demo_payment_moves_the_application_to_received_with_events_audit_and_notice(owed, taro):
    payment = services.start(owed, taro, return_url=back)
    assert payment.status == "pending" and payment.amount_yen == 1600 and payment.provider == "demo"
    assert services.confirm(payment).status == "pending"  # nothing paid at the provider yet
    pay_at_demo(payment)
    payment = services.confirm(payment)
    assert payment.status == "succeeded"
    with tenant(owed.municipality):
        owed.refresh_from_db()
        assert owed.status == "received"
        assert list(owed.events.order_by("id").values_list("to_status", "role"))[-1] == ("received", "system")
        assert Notice.objects.filter(application=owed, kind="received").count() == 1
        kinds = list(PaymentEvent.objects.filter(payment=payment).order_by("id").values_list("kind", "to_status"))
        assert kinds == [("created", "created"), ("checkout", "pending"), ("confirmed", "succeeded")]
        actions = list(AuditEvent.objects.filter(object_type="payments.payment", object_id=str(payment.pk))
                       .order_by("id").values_list("action", flat=True))
        assert actions == ["payments.created", "payments.pending", "payments.succeeded"]
    assert services.confirm(payment).status == "succeeded"  # the same result twice has one effect
    with tenant(owed.municipality):
        assert PaymentEvent.objects.filter(payment=payment).count() == 3


def test_a_second_start_gets_the_same_payment_and_a_paid_one_refuses(owed, taro):
    first = services.start(owed, taro, return_url=back)
    assert services.start(owed, taro, return_url=back).pk == first.pk
    pay_at_demo(first)
    services.confirm(first)
    with tenant(owed.municipality):
        owed.refresh_from_db()
    with pytest.raises(services.PaymentError) as exc:
        services.start(owed, taro, return_url=back)
    assert exc.value.code == "already_paid"


def test_the_database_refuses_a_second_live_payment(owed, taro):
    payment = services.start(owed, taro, return_url=back)
    with tenant(owed.municipality), pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(municipality=owed.municipality, application_id=owed.pk, amount_yen=1600,
                               provider="demo", idempotency_key="other")
    with tenant(owed.municipality):
        assert Payment.objects.filter(application_id=owed.pk).count() == 1 and payment.pk


def test_a_cancelled_checkout_leaves_the_application_payable(owed, taro):
    payment = services.start(owed, taro, return_url=back)
    pay_at_demo(payment, "cancelled")
    assert services.confirm(payment).status == "cancelled"
    with tenant(owed.municipality):
        owed.refresh_from_db()
    assert owed.status == "payment_required"
    again = services.start(owed, taro, return_url=back)
    assert again.pk != payment.pk and again.status == "pending"


def test_another_residents_application_is_not_found(owed, hanako):
    with pytest.raises(services.PaymentError) as exc:
        services.start(owed, hanako, return_url=back)
    assert exc.value.status == 404


def test_a_failing_transition_rolls_the_payments_success_back(owed, taro, monkeypatch):
    """The payment's success and the application's transition are one transaction: a
    transition listener that raises undoes the payment's success too."""
    from madoguchi.applications.transitions import LISTENERS

    payment = services.start(owed, taro, return_url=back)
    pay_at_demo(payment)

    def broken(transitions):
        raise RuntimeError("listener down")

    monkeypatch.setitem(LISTENERS._entries, "zz-broken", type(LISTENERS.entries()[0])("zz-broken", broken, "test"))
    with pytest.raises(RuntimeError):
        services.confirm(payment)
    with tenant(owed.municipality):
        payment.refresh_from_db()
        owed.refresh_from_db()
        assert payment.status == "pending" and owed.status == "payment_required"
        assert not PaymentEvent.objects.filter(payment=payment, to_status="succeeded").exists()
        assert not AuditEvent.objects.filter(action="payments.succeeded").exists()
    monkeypatch.delitem(LISTENERS._entries, "zz-broken")
    assert services.confirm(payment).status == "succeeded"  # payable later: the provider still says paid


def test_production_refuses_the_demo_provider(owed, taro, settings, monkeypatch):
    settings.DEMO_ALLOWED = False
    with pytest.raises(ImproperlyConfigured, match="demo payment provider is refused in production"):
        services.start(owed, taro, return_url=back)
    settings.DEMO_ALLOWED = True
    monkeypatch.setenv("MADOGUCHI_ENV", "production")
    with pytest.raises(ImproperlyConfigured, match="refused in production"):
        providers.get("demo")
    with tenant(owed.municipality):
        assert not Payment.objects.exists()


def test_an_unknown_provider_is_refused_with_the_known_ones(owed, taro, settings):
    settings.PAYMENT_PROVIDERS = {owed.municipality.code: "paypay"}
    with pytest.raises(ImproperlyConfigured, match="unknown payment provider 'paypay'; known: demo"):
        services.start(owed, taro, return_url=back)
    with pytest.raises(UnknownName):
        providers.PROVIDERS.get("paypay")


def test_counter_payment_then_partial_and_full_refund(owed, taro, cashier):
    user, _device = cashier
    pending = services.start(owed, taro, return_url=back)  # an online checkout left unfinished
    payment = services.record_counter(owed, user, method="cash", till_receipt="R-000123")
    assert payment.status == "succeeded" and payment.provider == "counter" and payment.till_receipt == "R-000123"
    with tenant(owed.municipality):
        pending.refresh_from_db()
        owed.refresh_from_db()
    assert pending.status == "cancelled" and owed.status == "received"
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=1601, reason="二重に受領")
    assert (exc.value.status, exc.value.field, exc.value.code) == (400, "amount_yen", "refund_too_large")
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=100, reason=" ")
    assert exc.value.field == "reason"
    services.refund(payment, user, amount_yen=400, reason="品目の取消し")
    with tenant(owed.municipality):
        payment.refresh_from_db()
    assert payment.status == "partially_refunded" and payment.refunded_yen == 400
    with pytest.raises(services.PaymentError) as exc:
        services.refund(payment, user, amount_yen=1201, reason="残り")
    assert exc.value.field == "amount_yen"
    services.refund(payment, user, amount_yen=1200, reason="残り")
    with tenant(owed.municipality):
        payment.refresh_from_db()
        assert payment.status == "refunded" and payment.refunded_yen == 1600
        assert AuditEvent.objects.filter(action="payments.refunded").count() == 2
        # The resident is told of each refund: a notice of kind refunded, references only.
        refunds = Notice.objects.filter(application_id=owed.pk, kind="refunded")
        assert refunds.count() == 2
        text = notices.text(refunds.first())
        assert "返金" in text and owed.receipt_number in text and "1,600" not in text
        event = PaymentEvent.objects.filter(payment=payment).first()
        with pytest.raises(AppendOnly):
            event.save()
        with pytest.raises(AppendOnly):
            event.delete()


def test_counter_payment_input_is_checked(owed, cashier):
    user, _device = cashier
    with pytest.raises(services.PaymentError) as exc:
        services.record_counter(owed, user, method="bitcoin", till_receipt="R1")
    assert exc.value.field == "method"
    with pytest.raises(services.PaymentError) as exc:
        services.record_counter(owed, user, method="card", till_receipt="R1\n<script>")
    assert exc.value.field == "till_receipt"
    with tenant(owed.municipality):
        assert Application.objects.get(pk=owed.pk).status == "payment_required"
        assert not Payment.objects.exists()


def test_a_provider_that_fails_at_checkout_leaves_the_application_payable(owed, taro, settings, monkeypatch):
    from madoguchi.registry import Entry

    class Down(providers.Provider):
        def checkout(self, payment, *, return_url):
            raise TimeoutError("provider timed out")

    monkeypatch.setitem(providers.PROVIDERS._entries, "down", Entry("down", Down, "test: always times out"))
    settings.PAYMENT_PROVIDER = "down"
    with pytest.raises(services.PaymentError) as exc:
        services.start(owed, taro, return_url=back)
    assert (exc.value.code, exc.value.status) == ("provider_unavailable", 503)
    with tenant(owed.municipality):
        failed = Payment.objects.get(application_id=owed.pk)
        assert failed.status == "failed"
        assert AuditEvent.objects.filter(action="payments.failed", object_id=str(failed.pk)).exists()
    settings.PAYMENT_PROVIDER = "demo"
    again = services.start(owed, taro, return_url=back)
    assert again.pk != failed.pk and again.status == "pending"


def test_a_tap_after_cancelling_at_the_provider_starts_a_new_payment(owed, taro):
    first = services.start(owed, taro, return_url=back)
    pay_at_demo(first, "cancelled")  # cancelled on the provider's page; the return page never seen
    second = services.start(owed, taro, return_url=back)
    assert second.pk != first.pk and second.status == "pending"
    with tenant(owed.municipality):
        first.refresh_from_db()
    assert first.status == "cancelled"


def test_money_taken_for_a_withdrawn_application_stays_recorded_for_a_refund(owed, taro):
    from madoguchi.applications.services import withdraw

    payment = services.start(owed, taro, return_url=back)
    withdraw(owed, taro)  # withdrawn while the checkout was open
    pay_at_demo(payment)
    payment = services.confirm(payment)
    assert payment.status == "succeeded"
    with tenant(owed.municipality):
        assert Application.objects.get(pk=owed.pk).status == "withdrawn"
        assert PaymentEvent.objects.filter(payment=payment, kind="application_not_waiting").count() == 1
        assert AuditEvent.objects.filter(action="payments.application_not_waiting").count() == 1


def test_staff_add_makes_a_cashier_audited(muni_a):
    from django.core.management import call_command

    from madoguchi.staff.models import Membership

    call_command("staff_add", "--municipality", muni_a.code, "--username", "kaikei-1", "--role", "viewer",
                 "--cashier", stdout=__import__("io").StringIO())
    with tenant(muni_a):
        membership = Membership.objects.get(user__username="kaikei-1")
        assert membership.cashier
        assert AuditEvent.objects.filter(action="staff.enrolled", object_id=str(membership.pk),
                                         data__cashier=True).exists()


def test_the_sweep_expires_an_abandoned_demo_checkout(owed, taro, settings):
    import datetime as dt

    from django.utils import timezone

    payment = services.start(owed, taro, return_url=back)
    later = timezone.now() + dt.timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES + 1)
    assert services.expire_abandoned(owed.municipality) == {}
    assert services.expire_abandoned(owed.municipality, now=later) == {"expired": 1}
    with tenant(owed.municipality):
        payment.refresh_from_db()
        assert payment.status == "expired"
        assert DemoCheckout.objects.get(reference=payment.provider_reference).state == "expired"
        assert AuditEvent.objects.filter(action="payments.expired", object_id=str(payment.pk)).exists()
        assert Application.objects.get(pk=owed.pk).status == "payment_required"
    assert services.start(owed, taro, return_url=back).status == "pending"  # payable again
