"""A resident on a phone: sign in with the demo virtual card, request 住民票の写し, sign it
with the card, get the receipt, and find it under "my applications". axe on every page."""

import re

from tests.browser.conftest import axe_violations, screenshot

CODE = "139998"


def use_demo_card(page, password=None, pin="1234"):
    page.get_by_text("デモ: このパソコンの仮想カードを使う").click()
    page.get_by_label("デモ用カード").select_option("taro")
    if page.get_by_label("利用者証明用の暗証番号（数字4桁）").count():
        page.get_by_label("利用者証明用の暗証番号（数字4桁）").fill(pin)
    if password is not None:
        page.get_by_label("署名用電子証明書のパスワード（英数字6〜16桁）").fill(password)
    page.get_by_role("button", name="仮想カードで読み取る").click()


def signed_in_on_a_phone(server, browser, code=CODE):
    """A resident signed in with the demo card on a 390×844 page; returns the page, an axe
    `check(name)` and the violations it collects by name."""
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    page.goto(f"{server.base_url}/{code}/login/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{code}/$"), timeout=15000)  # the top page: what needs them first
    return page, check, violations


def test_request_a_residence_record_copy_on_a_phone(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    page.goto(f"{server.base_url}/{CODE}/login/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    check("ceremony-wait")
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/$"), timeout=15000)

    page.goto(f"{server.base_url}/{CODE}/")
    page.get_by_role("link", name=re.compile("住民票の写し")).first.click()
    check("procedure")
    page.goto(f"{server.base_url}/{CODE}/procedures/juminhyo-copy/apply/")
    check("form")
    # Prefilled from the card's verified facts; the rest is typed.
    assert page.locator("[name=applicant_name]").input_value() == "窓口　太郎"
    page.locator("[name=phone]").fill("03-0000-0000")
    page.get_by_label("本人のみ").check()
    page.locator("[name=copies]").fill("2")
    page.locator("select[name=purpose]").select_option("employment")
    page.locator("input[name=delivery]").first.check()
    screenshot(page, "application-form")
    page.get_by_role("button", name="確認画面へ進む").click()
    assert "600" in page.content()  # 2 copies × 300 yen, shown before signing
    check("review")
    screenshot(page, "application-review")
    page.get_by_role("button", name="電子署名して申請する").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/applications/"), timeout=20000)
    receipt = re.search(r"受付番号:\s*(\S+)", page.locator("main").inner_text())
    assert receipt, page.locator("main").inner_text()[:2000]
    assert "支払い待ち" in page.locator("main").inner_text()  # a fee stops in "payment required"
    assert "昭和55年4月1日（1980年4月1日）" in page.locator("main").inner_text()  # legal dates in the era
    check("receipt")
    screenshot(page, "application-receipt")
    page.goto(f"{server.base_url}/{CODE}/applications/")
    assert receipt.group(1) in page.locator("main").inner_text()
    check("my-applications")
    screenshot(page, "my-applications")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert violations == {}
    context.close()
