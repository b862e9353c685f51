"""A resident on a phone pays the fee of an application with the demo provider and sees it
received (受付済み). axe on every page of the payment."""

import re

from tests.browser.conftest import screenshot
from tests.browser.test_application_flow import CODE, signed_in_on_a_phone, use_demo_card


def signed_two_copies_on_a_phone(server, browser):
    """A resident on a phone signs a request for two copies of 住民票 (a fee of 600円) and
    lands on its page in 支払い待ち: the start of every payment flow."""
    page, check, violations = signed_in_on_a_phone(server, browser, CODE)
    page.goto(f"{server.base_url}/{CODE}/procedures/juminhyo-copy/apply/")
    page.locator("[name=phone]").fill("03-0000-0000")
    page.get_by_label("本人のみ").check()
    page.locator("[name=copies]").fill("2")
    page.locator("select[name=purpose]").select_option("employment")
    page.locator("input[name=delivery]").first.check()
    page.get_by_role("button", name="確認画面へ進む").click()
    page.get_by_role("button", name="電子署名して申請する").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/applications/"), timeout=20000)
    return page, check, violations


def test_pay_a_fee_with_the_demo_provider_on_a_phone(server, browser):
    page, check, violations = signed_two_copies_on_a_phone(server, browser)
    assert "支払い待ち" in page.locator("main").inner_text()
    check("application")

    page.get_by_role("link", name="お支払い").click()
    assert "600円" in page.locator("main").inner_text()
    check("pay")
    screenshot(page, "payment-amount")
    page.get_by_role("button", name="支払う").click()
    page.wait_for_url(re.compile(rf"/{CODE}/payments/demo/"))
    assert "実際の請求は行われません" in page.locator("main").inner_text()
    check("demo-provider")
    screenshot(page, "payment-demo-provider")
    page.get_by_role("button", name="支払う（デモ）").click()
    page.wait_for_url(re.compile(rf"/{CODE}/payments/[0-9a-f-]+/$"))
    page.get_by_text("お支払いを確認しました").wait_for()
    check("payment-status")
    screenshot(page, "payment-confirmed")
    page.get_by_role("link", name="申請を見る").click()
    main = page.locator("main").inner_text()
    assert "受付済み" in main and "支払済み" in main
    check("application-received")
    screenshot(page, "payment-application-received")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"{server.base_url}/{CODE}/applications/")
    assert "支払済み" in page.locator("main").inner_text()
    check("my-applications")
    screenshot(page, "payment-my-applications")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert violations == {}, violations
    page.context.close()
