"""The back office end to end, in chromium against a real server (SQLite, or PostgreSQL when
the suite runs on it): a resident files a 転出届 signed with the demo card; a reviewer of
市民課 signs in (password + TOTP), finds it in the inbox, opens it, accepts it and returns it
for correction; the resident corrects it and signs again; the reviewer approves; the
resident sees "承認" and the notice. axe-core on the inbox and review pages."""

import datetime as dt
import re

import pytest

from tests.browser.conftest import axe_collector, screenshot
from tests.browser.test_application_flow import use_demo_card
from tests.server import madoguchi, totp_code

CODE = "139998"


@pytest.fixture(scope="module")
def shimin_reviewer(server):
    """A reviewer of 市民課 (the demo's reviewer works in 子育て支援課), made with the CLI."""
    out = madoguchi(server.env, "staff", "add", "--municipality", CODE, "--username", "shimin-reviewer",
                    "--role", "reviewer", "--department", "shimin")
    password = re.search(r"password \(shown once\): (\S+)", out).group(1)
    secret = re.search(r"secret=([A-Z2-7]+)", out).group(1)
    return "shimin-reviewer", password, secret


def fill_tenshutsu(page, phone):
    today = dt.date.today()
    page.locator("[name=phone]").fill(phone)
    page.locator("[name=move_date]").fill((today + dt.timedelta(days=7)).isoformat())
    page.locator("[name=new_postal_code]").fill("100-0001")
    page.locator("[name=new_address]").fill("東京都千代田区千代田1番1号")
    page.locator("[name=new_municipality]").fill("千代田区")
    page.locator("[name=visit_date]").fill((today + dt.timedelta(days=10)).isoformat())
    movers = page.locator("input[name=movers]")
    if not movers.first.is_checked():
        movers.first.check()


def file_tenshutsu_on_a_phone(server, browser, **fields):
    """The demo resident signs in on a 390×844 page and files a signed 転出届 (the default
    form, `fields` overriding it); returns the page, on the application, and its 受付番号."""
    resident = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}).new_page()
    resident.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    resident.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    resident.goto(f"{server.base_url}/{CODE}/procedures/tenshutsu/apply/")
    fill_tenshutsu(resident, "03-0000-0000")
    for name, value in fields.items():
        resident.locator(f"[name={name}]").fill(value)
    resident.get_by_role("button", name="確認画面へ進む").click()
    resident.get_by_role("button", name="電子署名して申請する").click()
    resident.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=20000)
    receipt = re.search(r"受付番号:\s*(\S+)", resident.locator("main").inner_text()).group(1)
    return resident, receipt


def test_return_for_correction_and_approve(server, browser, shimin_reviewer):
    check, violations = axe_collector()
    resident, receipt = file_tenshutsu_on_a_phone(server, browser)
    detail_url = resident.url

    staff = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}).new_page()
    username, password, secret = shimin_reviewer
    staff.goto(f"{server.base_url}/{CODE}/staff/login/")
    staff.locator("[name=username]").fill(username)
    staff.locator("[name=password]").fill(password)
    staff.locator("[name=otp_token]").fill(totp_code(secret))
    staff.locator("form button[type=submit]").last.click()
    staff.wait_for_url(re.compile(rf"/{CODE}/staff/$"))
    staff.get_by_role("link", name="申請の一覧", exact=True).click()
    staff.wait_for_url(re.compile(rf"/{CODE}/staff/applications/$"))
    assert receipt in staff.locator("main").inner_text()
    assert "窓口　太郎" in staff.locator("main").inner_text()
    check(staff, "inbox")
    screenshot(staff, "casework-inbox")
    staff.get_by_label("氏名・かな・受付番号").fill("まどぐち")  # kana finds the kanji name
    staff.get_by_role("button", name="検索").click()
    staff.get_by_role("link", name=receipt).click()
    staff.wait_for_url(re.compile(rf"/{CODE}/staff/applications/[0-9a-f-]+/$"))
    main = staff.locator("main").inner_text()
    assert "転出届" in main and "千代田区" in main and "すべて一致しています" in main
    assert "電子証明書は有効です。" in main
    check(staff, "review")
    screenshot(staff, "casework-review")
    staff.get_by_role("button", name="「受付済み」にする").click()
    staff.get_by_label("申請者への補正のお願い（必須）").fill("日中の連絡先電話番号をご確認ください。")
    staff.get_by_role("button", name="「補正依頼」にする").click()
    assert staff.locator("#application-status").inner_text() == "補正依頼"

    resident.goto(detail_url)
    assert "日中の連絡先電話番号をご確認ください。" in resident.locator("main").inner_text()
    resident.get_by_role("link", name="修正して再申請する").click()
    resident.locator("[name=phone]").fill("03-1111-2222")
    resident.get_by_role("button", name="電子署名して再申請する").click()
    resident.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(detail_url, timeout=20000)
    assert "再申請済み" in resident.locator("main").inner_text()

    staff.reload()
    assert staff.locator("#application-status").inner_text() == "再申請済み"
    assert "03-1111-2222" in staff.locator("main").inner_text()
    staff.get_by_role("button", name="「受付済み」にする").click()
    staff.get_by_role("button", name="「承認」にする").click()
    assert staff.locator("#application-status").inner_text() == "承認"
    screenshot(staff, "casework-approved")

    resident.goto(detail_url)
    assert "承認" in resident.locator("main").inner_text()
    resident.goto(f"{server.base_url}/{CODE}/applications/notices/")
    assert f"申請が承認されました（受付番号 {receipt}）" in resident.locator("main").inner_text()
    screenshot(resident, "casework-resident-notice")
    assert violations == {}
    staff.context.close()
    resident.context.close()
