"""The resident's pages (お支払い, the demo provider's hosted page, the return page) and the
staff page (窓口払い, refunds)."""

from madoguchi.applications.models import Application
from madoguchi.audit.models import AuditEvent
from madoguchi.municipalities.tenancy import tenant
from madoguchi.payments.models import DemoCheckout, Payment
from tests.applications.test_pages import signed_in
from tests.conftest import sign_in

from .conftest import submit_sodai


def status_of(application):
    with tenant(application.municipality):
        return Application.objects.get(pk=application.pk).status


def test_resident_pays_with_the_demo_provider_and_sees_received(client, owed, taro):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    page = client.get(f"/{code}/applications/{owed.public_id}/").content.decode()
    assert f"/{code}/applications/{owed.public_id}/pay/" in page and "1,600円" in page
    page = client.get(f"/{code}/applications/{owed.public_id}/pay/")
    assert page.status_code == 200 and "1,600円" in page.content.decode()
    assert "400円 × 1 = 400円" in page.content.decode() and "1,200円 × 1 = 1,200円" in page.content.decode()
    response = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    assert response.status_code == 302 and response["Location"].startswith(f"/{code}/payments/demo/demo_")
    demo = client.get(response["Location"]).content.decode()
    assert "デモ" in demo and "実際の請求は行われません" in demo
    back = client.post(response["Location"], {"action": "pay"})
    with tenant(owed.municipality):
        payment = Payment.objects.get(application_id=owed.pk)
    assert back["Location"] == f"http://testserver/{code}/payments/{payment.public_id}/"
    assert status_of(owed) == "payment_required"  # not before the return page asks the provider
    result = client.get(back["Location"]).content.decode()
    assert "お支払いを確認しました" in result and status_of(owed) == "received"
    assert "受付済み" in client.get(f"/{code}/applications/{owed.public_id}/").content.decode()
    mine = client.get(f"/{code}/applications/").content.decode()  # "my applications" shows the payment
    assert "<td>支払済み</td>" in mine


def test_double_tap_makes_one_payment(client, owed, taro):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    first = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    second = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    assert first["Location"] == second["Location"]
    with tenant(owed.municipality):
        assert Payment.objects.filter(application_id=owed.pk).count() == 1


def test_a_tampered_return_changes_nothing(client, owed, taro, hanako):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    client.post(f"/{code}/applications/{owed.public_id}/pay/")
    with tenant(owed.municipality):
        payment = Payment.objects.get(application_id=owed.pk)
    page = client.get(f"/{code}/payments/{payment.public_id}/?status=succeeded&amount_yen=1&paid=1")
    assert page.status_code == 200 and "お支払いの結果を確認しています" in page.content.decode()
    with tenant(owed.municipality):
        payment.refresh_from_db()
    assert payment.status == "pending" and status_of(owed) == "payment_required"
    assert client.get(f"/{code}/payments/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get(f"/{code}/payments/demo/demo_forged/").status_code == 404


def test_paying_another_residents_application_is_404(client, owed, taro, hanako):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    client.post(f"/{code}/applications/{owed.public_id}/pay/")
    with tenant(owed.municipality):
        payment = Payment.objects.get(application_id=owed.pk)
    client.logout()
    signed_in(client, owed.municipality, hanako)
    assert client.get(f"/{code}/applications/{owed.public_id}/pay/").status_code == 404
    assert client.post(f"/{code}/applications/{owed.public_id}/pay/").status_code == 404
    assert client.get(f"/{code}/payments/{payment.public_id}/").status_code == 404
    assert client.post(f"/{code}/payments/demo/{payment.provider_reference}/", {"action": "pay"}).status_code == 404
    with tenant(owed.municipality):
        assert DemoCheckout.objects.get(reference=payment.provider_reference).state == "open"
        assert Payment.objects.filter(application_id=owed.pk).count() == 1


def test_production_refuses_the_demo_provider_on_the_pages(client, owed, taro, settings):
    code = owed.municipality.code
    signed_in(client, owed.municipality, taro)
    settings.DEMO_ALLOWED = False
    response = client.post(f"/{code}/applications/{owed.public_id}/pay/")
    assert response.status_code == 503 and "窓口でお支払いください" in response.content.decode()
    with tenant(owed.municipality):
        assert not Payment.objects.exists()


def test_cashier_records_a_counter_payment_and_refunds_with_field_errors(client, owed, taro, cashier, muni_a):
    code = muni_a.code
    assert sign_in(client, muni_a, *cashier).status_code == 302
    url = f"/{code}/staff/payments/{owed.public_id}/"
    assert url in client.get(f"/{code}/staff/applications/{owed.public_id}/").content.decode()  # from the review page
    assert client.get(url).status_code == 200
    bad = client.post(url, {"action": "counter", "method": "cash", "till_receipt": ""})
    assert bad.status_code == 400 and 'id="till_receipt-error"' in bad.content.decode()
    assert client.post(url, {"action": "counter", "method": "card", "till_receipt": "T-42"}).status_code == 302
    assert status_of(owed) == "received"
    with tenant(muni_a):
        payment = Payment.objects.get(application_id=owed.pk, status="succeeded")
    too_much = client.post(url, {"action": "refund", "payment": str(payment.public_id), "amount_yen": "1601",
                                 "reason": "取消し"})
    assert too_much.status_code == 400 and 'id="amount_yen-error"' in too_much.content.decode()
    assert client.post(url, {"action": "refund", "payment": str(payment.public_id), "amount_yen": "1600",
                             "reason": "取消し"}).status_code == 302
    with tenant(muni_a):
        payment.refresh_from_db()
        assert payment.status == "refunded"
        assert AuditEvent.objects.filter(action="payments.refunded", actor_id=str(cashier[0].pk)).exists()
    client.logout()
    signed_in(client, muni_a, taro)
    page = client.get(f"/{code}/applications/{owed.public_id}/").content.decode()
    assert "返金済み" in page and "窓口" in page


def test_a_reviewer_of_another_department_gets_404(client, owed, other_reviewer, muni_a):
    assert sign_in(client, muni_a, *other_reviewer).status_code == 302
    url = f"/{muni_a.code}/staff/payments/{owed.public_id}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "counter", "method": "cash", "till_receipt": "T-1"}).status_code == 404
    assert status_of(owed) == "payment_required"
