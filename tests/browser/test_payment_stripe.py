"""A resident on a phone pays through the `stripe` provider adapter and the local fake of
Stripe (tests/payments/fake_stripe.py): the Checkout Session's url is the fake's hosted
page (marked FAKE), paying there makes the fake send its signed webhook to madoguchi's
endpoint, and the resident is back on a page that says 受付済み, then finds the 領収書
(issued by the worker). axe on madoguchi's pages (the fake's page is not ours)."""

import re
import subprocess
import sys
import time

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_application_flow import CODE
from tests.browser.test_payment_flow import signed_two_copies_on_a_phone
from tests.payments.fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from tests.server import fresh_database_url, start, stop_process


@pytest.fixture(scope="module")
def fake():
    server = FakeStripe()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stripe_server(tmp_path_factory, fake):
    url, drop = fresh_database_url("stripe")
    srv = start(tmp_path_factory.mktemp("server"), url, MADOGUCHI_PAYMENT_PROVIDER="stripe",
                MADOGUCHI_STRIPE_API_KEY=API_KEY, MADOGUCHI_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                MADOGUCHI_STRIPE_API_BASE=fake.base_url, MADOGUCHI_STRIPE_CHECKOUT_ORIGIN=fake.base_url)
    fake.webhook_url = f"{srv.base_url}/{CODE}/payments/webhooks/stripe/"
    worker = subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=srv.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield srv
    stop_process(worker)
    srv.stop()
    drop()


def test_pay_through_the_stripe_adapter_and_the_fakes_hosted_page(stripe_server, fake, browser):
    server = stripe_server
    page, check, violations = signed_two_copies_on_a_phone(server, browser)
    application_url = page.url
    page.get_by_role("link", name="お支払い").click()
    check("pay")
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url(re.compile(re.escape(fake.base_url) + r"/c/pay/cs_test_fake_"))
    assert "FAKE Stripe Checkout" in page.locator("body").inner_text()
    screenshot(page, "payment-stripe-fake-hosted-page")
    page.get_by_role("button", name=re.compile("支払う")).click()
    page.wait_for_url(re.compile(rf"{re.escape(server.base_url)}/{CODE}/payments/[0-9a-f-]+/$"))
    page.get_by_text("お支払いを確認しました").wait_for()
    assert fake.webhook_results and fake.webhook_results[0][0] == 200, fake.webhook_results
    assert fake.webhook_results[0][1]["result"] == "succeeded"  # the signed webhook did it
    check("payment-status")
    screenshot(page, "payment-stripe-confirmed")
    page.goto(application_url)
    deadline = time.monotonic() + 60
    while "領収書" not in page.locator("main").inner_text() and time.monotonic() < deadline:
        time.sleep(1)  # the worker issues the 領収書
        page.reload()
    main = page.locator("main").inner_text()
    assert "受付済み" in main and "支払済み" in main and "領収書" in main
    check("application-received")
    screenshot(page, "payment-stripe-application-received")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("領収書")).first.click()
    assert download.value.suggested_filename.endswith("-payment_receipt.pdf")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert violations == {}, violations
    page.context.close()
