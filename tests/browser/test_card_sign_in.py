"""A resident signs in with the card: the browser waits on the QR page while the card
client (`madoguchi card ceremony`, a subprocess with a demo virtual card) reads the card."""

import re
import subprocess
import sys

from tests.browser.conftest import axe_violations, screenshot

CODE = "139998"


def card_client(server, url, *extra):
    return subprocess.run([sys.executable, "-m", "madoguchi", "card", "ceremony", url, "--card", "taro", "--yes",
                           *extra], env=server.env, capture_output=True, text=True, timeout=120)


def wait_page_url(page) -> str:
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    return page.get_by_label(re.compile("アドレスを貼り付けて")).input_value()


def test_identify_then_login_with_the_card_client(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    url = wait_page_url(page)
    result = card_client(server, url, "--pin", "1234", "--password", "MADO2026")
    assert result.returncode == 0, result.stderr
    assert "窓口市 オンライン窓口" in result.stdout  # the client showed who asks
    # htmx polling notices the completion and the page continues by itself.
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    assert page.get_by_role("definition").filter(has_text="窓口　太郎").is_visible()
    assert page.get_by_text("紐付け済み").is_visible()
    screenshot(page, "resident-account")
    assert axe_violations(page) == []
    context.close()

    # A second visit, another browser: `login` with the PIN only.
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="ログインする", exact=True).click()
    result = card_client(server, wait_page_url(page), "--pin", "1234")
    assert result.returncode == 0, result.stderr
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    assert page.get_by_text("窓口　太郎").first.is_visible()
    context.close()


def test_a_wrong_pin_in_the_card_client_tells_the_tries_left(server, browser):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="ログインする", exact=True).click()
    result = subprocess.run([sys.executable, "-m", "madoguchi", "card", "ceremony", wait_page_url(page),
                             "--card", "hanako", "--yes", "--pin", "0000"], env=server.env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "残り2回" in result.stderr
    context.close()


def test_the_demo_virtual_card_in_the_page(server, browser):
    context = browser.new_context(locale="ja-JP")
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    page.get_by_text("デモ: このパソコンの仮想カードを使う").click()
    page.get_by_label("デモ用カード").select_option("taro")
    page.get_by_label("利用者証明用の暗証番号（数字4桁）").fill("1234")
    page.get_by_label("署名用電子証明書のパスワード（英数字6〜16桁）").fill("MADO2026")
    screenshot(page, "ceremony-demo-card")
    page.get_by_role("button", name="仮想カードで読み取る").click()
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    context.close()
