"""What a resident and a member of staff see, in a real browser."""

import re

from tests.browser.conftest import axe_violations, screenshot
from tests.server import totp_code

CODE = "139998"


def test_resident_top_page_in_japanese(server, page):
    response = page.goto(f"{server.base_url}/{CODE}/")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("h1").inner_text() == "窓口市 オンライン窓口"
    assert page.get_by_role("link", name="マイナンバーカードでログイン").is_visible()
    # The design tokens and our stylesheet are served and applied (no CDN).
    header_bg = page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
    assert header_bg == "rgb(0, 23, 193)"  # --color-primitive-blue-900
    # Mobile-first: nothing overflows a phone's width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.console_errors == []
    screenshot(page, "resident-top-ja")


def test_resident_top_page_switches_to_english(server, page):
    page.goto(f"{server.base_url}/{CODE}/")
    page.select_option("#language-select", "en")
    page.get_by_role("button", name="切替").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "窓口市 Online City Hall"
    assert page.get_by_role("link", name="Sign in with your My Number Card").is_visible()
    screenshot(page, "resident-top-en")


def test_card_login_shows_a_qr_code_to_read_the_card(server, page):
    page.set_viewport_size({"width": 1280, "height": 900})  # a desktop: a phone gets the app button
    page.goto(f"{server.base_url}/{CODE}/")
    page.get_by_role("link", name="マイナンバーカードでログイン").click()
    page.get_by_role("button", name="ログインする", exact=True).click()
    assert page.get_by_role("heading", name="マイナンバーカードを読み取ってください").is_visible()
    assert page.get_by_role("img", name="カード読み取りアプリ用の QR コード").is_visible()
    assert "/api/ceremonies/" in page.get_by_label(re.compile("アドレスを貼り付けて")).input_value()
    # The page polls without reloading and shows the waiting state.
    page.wait_for_timeout(2500)
    assert page.get_by_text("カードの読み取りを待っています").is_visible()
    assert page.console_errors == []
    screenshot(page, "ceremony-wait")
    assert axe_violations(page) == []


def test_unknown_municipality_shows_the_japanese_404(server, page):
    response = page.goto(f"{server.base_url}/999999/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "ページが見つかりません（404）"
    assert "Traceback" not in page.content()
    screenshot(page, "not-found")


def test_staff_signs_in_with_password_and_totp(server, page):
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill("demo-admin")
    page.get_by_label("パスワード").fill("madoguchi-demo-password")
    page.get_by_label("確認コード（6桁）").fill(totp_code(server.totp_secrets["demo-admin"]))
    screenshot(page, "staff-sign-in")
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))
    assert page.locator("h1").inner_text() == "ダッシュボード"
    assert page.get_by_role("cell", name="demo-admin").is_visible()
    screenshot(page, "staff-dashboard")
    assert axe_violations(page) == []
    # The municipality settings page, then the admin behind the same TOTP sign-in.
    page.get_by_role("link", name="自治体の設定").click()
    assert page.get_by_label("代表電話番号").input_value() == "03-0000-0000"
    page.goto(f"{server.base_url}/admin/")
    assert "madoguchi 設定管理" in page.content()


def test_staff_sign_in_with_a_wrong_code_is_refused(server, page):
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill("demo-reviewer")
    page.get_by_label("パスワード").fill("madoguchi-demo-password")
    good = totp_code(server.totp_secrets["demo-reviewer"])
    page.get_by_label("確認コード（6桁）").fill(f"{(int(good) + 1) % 1000000:06d}")
    page.get_by_role("button", name="ログイン").click()
    # The message names the step that failed; only a new code is asked for, the field empty.
    assert page.get_by_role("alert").first.inner_text().startswith("パスワードは確認できました。確認コードが正しくありません。")
    assert page.url.endswith("/staff/login/")
    assert page.get_by_label("パスワード", exact=True).count() == 0
    assert page.get_by_label("確認コード（6桁）").input_value() == ""
    assert axe_violations(page) == []
    screenshot(page, "staff-sign-in-wrong-code")
    page.wait_for_timeout(1100)  # django-otp throttles the device for a second after a wrong code
    page.get_by_label("確認コード（6桁）").fill(totp_code(server.totp_secrets["demo-reviewer"]))
    page.get_by_role("button", name="ログイン", exact=True).click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))


def test_resident_top_page_has_no_wcag_violation(server, page):
    page.goto(f"{server.base_url}/{CODE}/")
    assert axe_violations(page) == []


def test_staff_sign_in_page_has_no_wcag_violation(server, page):
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    assert axe_violations(page) == []


def test_english_top_page_has_no_wcag_violation(server, browser):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert axe_violations(page) == []
    context.close()
