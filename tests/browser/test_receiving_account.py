"""A resident on a phone (390×844) registers the 公金受取口座: signs in with the demo card,
types the bank by name, sees a field-named error for a 6-digit number, confirms the bank
and branch names in kanji and kana, signs with the card, and finds the account masked.
Screenshots in test-artifacts/; axe-core finds nothing on any page."""

import re

from tests.browser.conftest import screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone, use_demo_card

CODE = "139998"


def test_register_a_receiving_account_on_a_phone(server, browser):
    page, check, violations = signed_in_on_a_phone(server, browser)
    page.goto(f"{server.base_url}/{CODE}/account/")
    page.get_by_role("link", name="公金受取口座の登録・変更").click()
    page.wait_for_url(re.compile(rf"/{CODE}/receiving-account/$"))
    check("mine-empty")
    page.get_by_role("link", name="口座を登録する").click()
    check("edit")
    page.get_by_label("金融機関").fill("みずほ")
    page.get_by_label("支店", exact=False).first.fill("東京営業部")
    page.get_by_label("普通").check()
    page.get_by_label("口座番号").fill("123456")
    page.get_by_label("口座名義（カナ）").fill("まどぐち たろう")
    page.get_by_role("button", name="確認画面へ進む").click()
    body = page.locator("main").inner_text()
    assert "口座番号: 7桁の数字で入力してください（6桁でした）。" in body
    check("edit-error")
    screenshot(page, "receiving-account-error")
    page.get_by_label("口座番号").fill("1234567")
    page.get_by_role("button", name="確認画面へ進む").click()
    page.wait_for_url(re.compile(rf"/{CODE}/receiving-account/confirm/$"))
    body = page.locator("main").inner_text()
    assert "みずほ（ﾐｽﾞﾎ）" in body and "東京営業部（ﾄｳｷﾖｳ）" in body and "****567" in body
    assert "1234567" not in page.content()
    check("confirm")
    screenshot(page, "receiving-account-confirm")
    page.get_by_role("button", name="電子署名して登録する").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/receiving-account/$"), timeout=20000)
    body = page.locator("main").inner_text()
    assert "公金受取口座を登録しました。" in page.content() and "登録済み" in body and "****567" in body
    assert "1234567" not in page.content()
    check("mine-registered")
    screenshot(page, "receiving-account-registered")
    assert not violations, violations
