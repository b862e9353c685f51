"""A resident on a phone opens 証明書の交付, is sent to the card sign-in and back, issues a
住民票の写し for the household, downloads it, and a recipient checks it on the verification
page (the PDF uploaded matches byte for byte). axe-core on every page; screenshots kept."""

import re
import subprocess

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import use_demo_card

CODE = "139998"


def test_a_resident_gets_a_certificate_and_a_recipient_checks_it(server, browser, tmp_path):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    violations = {}

    def check(name):
        screenshot(page, f"certificates-{name}")
        if found := axe_violations(page):
            violations[name] = found

    page.goto(f"{server.base_url}/{CODE}/")
    page.get_by_role("link", name="証明書の交付へ").click()
    page.get_by_role("button", name="本人確認をしてログインする").click()  # sign-in first, then back here
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/certificates/$"), timeout=15000)
    page.get_by_role("heading", name="証明書の交付").wait_for()
    check("start")
    page.get_by_role("button", name="証明書を作る").click()  # nothing chosen: the summary names the field
    summary = page.locator("#form-errors")
    assert "証明書の種類: 証明書の種類を選んでください。" in summary.inner_text()
    check("error")
    page.get_by_label(re.compile("住民票の写し（")).check()
    page.get_by_label("世帯全員").check()
    page.get_by_label("世帯主の氏名を載せる").check()
    page.get_by_label(re.compile("使いみち・提出先（")).fill("賃貸住宅の契約")
    page.get_by_role("button", name="証明書を作る").click()
    page.get_by_role("heading", name="住民票の写しができました").wait_for()
    number = page.locator(".receipt-number").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", number)
    check("issued")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDFをダウンロードする").click()
    path = tmp_path / "certificate.pdf"
    download.value.save_as(path)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = text.replace(" ", "").replace("\u3000", "")
    assert "窓口太郎" in flat and "窓口花子" in flat and "賃貸住宅の契約" in flat and number in flat
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), "test-artifacts/certificates-pdf"],
                   check=True)

    # The recipient: another browser, not signed in, types the number from the paper.
    recipient = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}).new_page()
    page = recipient
    page.goto(f"{server.base_url}/{CODE}/verify/")
    page.get_by_label("発行番号").fill(number.lower())
    page.get_by_role("button", name="確かめる").click()
    page.get_by_role("heading", name="窓口市が発行した本物の証明書です").wait_for()
    assert "窓口" + "　太郎" not in page.locator("main").inner_text()  # no content shown
    page.get_by_label("PDFファイル").set_input_files(str(path))
    page.get_by_role("button", name="PDFを照合する").click()
    page.get_by_text("1バイトも違いません").wait_for()
    check("verified")
    assert violations == {}
    context.close()


def test_the_kiosk_on_a_touch_screen(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1080, "height": 1350}, has_touch=True)
    page = context.new_page()
    violations = {}

    def check(name):
        screenshot(page, f"certificates-kiosk-{name}")
        if found := axe_violations(page):
            violations[name] = found

    page.goto(f"{server.base_url}/{CODE}/kiosk/")
    check("start")
    page.get_by_role("link", name="はじめる（カードで本人確認）").tap()
    page.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/kiosk/certificates/$"), timeout=15000)
    assert page.locator("header nav").count() == 0  # no portal menu on the terminal
    check("choose")
    page.get_by_role("button", name=re.compile("^印鑑登録証明書")).tap()  # 太郎 has a registration in the demo
    page.get_by_role("heading", name="印鑑登録証明書ができました").wait_for()
    pdf = page.get_by_role("link", name="印刷する").get_attribute("data-pdf")
    assert pdf.endswith("/pdf/?inline=1")  # framed and printed by kiosk.js when tapped
    response = page.request.get(server.base_url + pdf)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    check("print")
    page.get_by_role("button", name="終わる（カードを取って終了）").tap()
    page.wait_for_url(re.compile(rf"/{CODE}/kiosk/$"))
    page.goto(f"{server.base_url}/{CODE}/kiosk/certificates/")
    assert "/login/" in page.url  # signed out for the next resident
    assert violations == {}
    context.close()
