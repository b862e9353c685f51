"""A benefit paid end to end in chromium against a real server (issue 19's demo): an
administrator defines a benefit and starts paying it; the resident (demo card) finds on a
phone that a 確認書 is needed and files it online, signed with the card; a reviewer of 福祉課
accepts it; the administrator builds a payment run, a second administrator approves it and
downloads the Zengin file; the demo's stand-in bank answers it with one transfer failed; the
upload marks it and the resident sees why. Screenshots in test-artifacts/; axe-core finds
nothing on any page."""

import datetime as dt
import re

from madoguchi import zengin
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone, use_demo_card
from tests.server import madoguchi, totp_code

CODE = "139998"
PASSWORD = "madoguchi-demo-password"


def staff_page(server, browser, username):
    page = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.locator("[name=username]").fill(username)
    page.locator("[name=password]").fill(PASSWORD)
    page.locator("[name=otp_token]").fill(totp_code(server.totp_secrets[username]))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))
    return page


def weekday_after(days: int) -> dt.date:
    day = dt.date.today() + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def test_a_benefit_from_definition_to_the_bank_results(server, browser, tmp_path):
    violations = {}

    def check(page, name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    admin = staff_page(server, browser, "demo-admin")
    admin.goto(f"{server.base_url}/{CODE}/staff/benefits/")
    admin.get_by_label("事業名").fill("物価高騰対応給付金")
    admin.get_by_label("根拠（要綱・条例・法令）").fill("窓口市物価高騰対応給付金支給要綱")
    admin.get_by_label("基準日", exact=True).fill(dt.date.today().isoformat())
    admin.get_by_label("支給単位").select_option("person")
    admin.get_by_label("支給額（円）").fill("30000")
    admin.get_by_role("button", name="事業を作って試算する").click()
    admin.wait_for_url(re.compile(rf"/{CODE}/staff/benefits/\d+/$"))
    program_url = admin.url
    assert "支給の見込み" in admin.locator("main").inner_text()
    check(admin, "program-dry-run")
    admin.get_by_label("辞退・口座変更の受付期間（日）").fill("1")
    admin.get_by_role("button", name="支給を始めて通知する").click()
    admin.wait_for_url(program_url)
    assert "支給を始めました" in admin.locator("main").inner_text()
    check(admin, "program-open")
    screenshot(admin, "benefit-program-open")

    resident, check_resident, resident_violations = signed_in_on_a_phone(server, browser)
    resident.goto(f"{server.base_url}/{CODE}/benefits/")
    body = resident.locator("main").inner_text()
    assert "物価高騰対応給付金" in body and "30,000円" in body and "確認書の提出待ち" in body
    check(resident, "resident-awaiting")
    screenshot(resident, "benefit-resident-awaiting")
    resident.get_by_role("link", name="確認書をオンラインで出す").click()
    resident.get_by_role("link", name=re.compile("申請")).first.click()
    resident.locator("[name=program]").fill("物価高騰対応給付金")
    resident.locator("[name=bank_code]").fill("0005")
    resident.locator("[name=branch_code]").fill("001")
    resident.get_by_label("普通").check()
    resident.locator("[name=account_number]").fill("0000777")
    resident.locator("[name=holder_kana]").fill("マドグチ タロウ")
    resident.get_by_role("button", name="確認画面へ進む").click()
    resident.get_by_role("button", name="電子署名して申請する").click()
    resident.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=20000)
    receipt = re.search(r"受付番号:\s*(\S+)", resident.locator("main").inner_text()).group(1)

    reviewer = staff_page(server, browser, "demo-fukushi")
    reviewer.get_by_role("link", name="申請の一覧", exact=True).click()
    reviewer.get_by_role("link", name=receipt).click()
    reviewer.get_by_role("button", name="「受付済み」にする").click()
    reviewer.get_by_role("button", name="「承認」にする").click()
    assert reviewer.locator("#application-status").inner_text() == "承認"
    resident.goto(f"{server.base_url}/{CODE}/benefits/")
    assert "支給準備済み" in resident.locator("main").inner_text()

    admin.goto(program_url)
    admin.get_by_label("振込指定日", exact=True).fill(weekday_after(3).isoformat())
    admin.get_by_label("振込依頼人コード（10桁）").fill("0000012345")
    admin.get_by_label("振込依頼人名（カナ）").fill("マドグチシ")
    admin.get_by_label("支払元の金融機関コード（4桁）").fill("0001")
    admin.get_by_label("支払元の支店コード（3桁）").fill("001")
    admin.get_by_label("支払元の口座番号（7桁）").fill("1234567")
    admin.get_by_role("button", name="振込データを作る").click()
    admin.wait_for_load_state()
    assert re.search(r"/runs/\d+/(#.*)?$", admin.url), admin.locator("main").inner_text()
    run_url = admin.url.split("#")[0]
    body = admin.locator("main").inner_text()
    assert "0005 三菱ＵＦＪ" in body and "承認は別の職員が行います" in body
    check(admin, "run-built")
    screenshot(admin, "benefit-run-built")

    approver = staff_page(server, browser, "demo-approver")
    approver.goto(run_url)
    approver.get_by_role("button", name="内容を確かめて承認する").click()
    assert "振込データを承認しました。" in approver.locator("main").inner_text()
    with approver.expect_download() as download:
        approver.get_by_role("link", name="振込ファイル（全銀協 総合振込）をダウンロード").click()
    sent = tmp_path / "sofuri.txt"
    download.value.save_as(sent)
    assert zengin.read_transfers(sent.read_bytes()).total == 30000
    answer = tmp_path / "kekka.txt"
    madoguchi(server.env, "zengin", "bank-results", str(sent), "--out", str(answer), "--fail", "1")

    admin.goto(run_url)
    admin.get_by_label("金融機関の結果ファイル").set_input_files(str(answer))
    admin.get_by_role("button", name="結果を取り込む").click()
    body = admin.locator("main").inner_text()
    assert "振込不能 1件" in body and "結果取込済み" in body
    check(admin, "run-settled")
    screenshot(admin, "benefit-run-settled")

    resident.goto(f"{server.base_url}/{CODE}/benefits/")
    body = resident.locator("main").inner_text()
    assert "振込ができませんでした" in body and "口座を確かめる" in body
    check(resident, "resident-failed")
    screenshot(resident, "benefit-resident-failed")
    assert violations == {} and resident_violations == {}
    for page in (admin, approver, reviewer, resident):
        page.context.close()
