"""The issue 23 demo in chromium against a real server and its task worker: 窓口 太郎 (the demo
card) files a 転出届 to 見本町 on a phone, 窓口市's 市民課 accepts it, the signed package reaches
見本町; the resident sees it and books a visit at 見本町's counter (signing in there with the
same card); 見本町's staff open the 転入予定 (the household, the origin's signature verified) and
confirm the 転入; the resident's page at 見本町 then lists what follows a move — their account
there is the same Person. Screenshots on a 390×844 phone and a desktop; axe-core on each page."""

import re
import subprocess
import sys
import time

import pytest

from tests.browser.conftest import axe_collector, screenshot
from tests.browser.test_application_flow import use_demo_card
from tests.browser.test_casework_flow import file_tenshutsu_on_a_phone, shimin_reviewer  # noqa: F401  (fixture)
from tests.server import stop_process, totp_code

ORIGIN, DESTINATION = "139998", "279994"
PASSWORD = "madoguchi-demo-password"


@pytest.fixture(scope="module")
def worker(server):
    process = subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=server.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield process
    stop_process(process)


def staff_sign_in(page, server, code, username, password, secret):
    page.goto(f"{server.base_url}/{code}/staff/login/")
    page.locator("[name=username]").fill(username)
    page.locator("[name=password]").fill(password)
    page.locator("[name=otp_token]").fill(totp_code(secret))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(rf"/{code}/staff/$"))


def test_a_move_from_madoguchi_to_mihon(server, worker, browser, shimin_reviewer):  # noqa: F811
    check, violations = axe_collector()
    resident, receipt = file_tenshutsu_on_a_phone(server, browser, new_municipality="見本町",
                                                  new_address="大阪府見本町本町2番3号")

    # 窓口市's 市民課 accepts it.
    staff = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}).new_page()
    staff_sign_in(staff, server, ORIGIN, *shimin_reviewer)
    staff.goto(f"{server.base_url}/{ORIGIN}/staff/applications/")
    staff.get_by_role("link", name=receipt).click()
    staff.get_by_role("button", name="「受付済み」にする").click()
    staff.get_by_role("button", name="「承認」にする").click()
    assert staff.locator("#application-status").inner_text() == "承認"
    staff.get_by_role("link", name="引越し", exact=True).click()
    assert receipt in staff.locator("main").inner_text()
    check(staff, "origin-moves")

    # The worker signs and delivers the package; the resident sees where it went.
    resident.goto(f"{server.base_url}/{ORIGIN}/account/")
    resident.get_by_role("link", name="引越しの手続き").click()
    deadline = time.monotonic() + 60
    while "転入先へ送付済み" not in resident.locator("main").inner_text():
        assert time.monotonic() < deadline, resident.locator("main").inner_text()
        time.sleep(1)
        resident.reload()
    body = resident.locator("main").inner_text()
    assert "見本町への転出" in body and "国民健康保険の資格喪失" in body
    check(resident, "resident-move-out")
    screenshot(resident, "moving-resident-out")

    # The visit to 見本町's counter: the same card signs in there.
    resident.get_by_role("link", name="見本町の窓口の来庁予約をする").click()
    resident.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(re.compile(rf"/{DESTINATION}/bookings/new/\?purpose="), timeout=15000)
    resident.get_by_label("市民課 転入・転出窓口", exact=False).check()
    assert resident.get_by_label("用件（例: 転入の手続き）").input_value() == "転入届"
    resident.get_by_role("button", name="次へ").click()
    resident.get_by_label("日", exact=True).select_option(index=1)
    resident.get_by_role("button", name="空いている時間を見る").click()
    resident.get_by_role("radio", name=re.compile(r"^10:00")).check()
    resident.get_by_role("button", name="この時間で予約する").click()
    resident.wait_for_url(re.compile(rf"/{DESTINATION}/bookings/[0-9a-f-]+/$"))
    assert "来庁予約を受け付けました。" in resident.content()

    # 見本町's staff see the 転入予定 and confirm it.
    mihon = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}).new_page()
    staff_sign_in(mihon, server, DESTINATION, "mihon-admin", PASSWORD, server.totp_secrets["mihon-admin"])
    mihon.get_by_role("link", name="引越し", exact=True).click()
    check(mihon, "destination-moves")
    mihon.get_by_role("link", name=receipt).click()
    page = mihon.locator("main").inner_text()
    assert "窓口市（139998）の署名を確かめました" in page and "窓口　太郎" in page and "大阪府見本町本町2番3号" in page
    check(mihon, "incoming-move")
    screenshot(mihon, "moving-incoming")
    mihon.get_by_role("button", name="転入を確定する").click()
    assert "転入を確定しました。" in mihon.content() and "転入済み" in mihon.locator("main").inner_text()
    screenshot(mihon, "moving-confirmed")

    # The resident, still signed in at 見本町 with the same account, sees what follows.
    resident.goto(f"{server.base_url}/{DESTINATION}/moving/")
    body = resident.locator("main").inner_text()
    assert "転入のあとの手続き" in body and "国民健康保険の加入" in body and "印鑑登録" in body
    check(resident, "resident-move-in")
    screenshot(resident, "moving-resident-in")
    # And 窓口市 (a sign-in is per municipality) shows the move as final.
    resident.goto(f"{server.base_url}/{ORIGIN}/moving/")
    resident.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(resident, password="MADO2026")
    resident.wait_for_url(re.compile(rf"/{ORIGIN}/moving/$"), timeout=15000)
    assert "転出が確定しました" in resident.locator("main").inner_text()
    assert violations == {}, violations
    for page in (staff, mihon, resident):
        page.context.close()


def test_a_move_in_from_another_deployment_sends_the_notice_back(server, worker, browser, tmp_path):
    """千代田区 runs on another deployment: its signed package is imported here; 見本町's staff
    confirm the 転入, the worker signs the 転入通知, and staff download it for 千代田区."""
    import base64
    import json

    from cryptography.hazmat.primitives import serialization

    from madoguchi.moving import package
    from madoguchi.pki import lgpki

    other = lgpki.DevLGPKI.open(tmp_path / "chiyoda-lgpki")
    roots = tmp_path / "roots.pem"
    roots.write_bytes(other.root.public_bytes(serialization.Encoding.PEM))
    person = {"origin_resident_number": "700001", "name": "千代田 花子", "name_kana": "ちよだ はなこ",
              "birth_date": "1990-06-01", "sex": "2", "relationship": "世帯主", "is_household_head": True}
    incoming = tmp_path / "chiyoda.json"
    incoming.write_bytes(package.sign(other.organisation("131016", "千代田区"), {
        "kind": "tenshutsu", "origin": "131016", "origin_name": "千代田区", "destination": DESTINATION,
        "destination_name": "見本町", "application": "131016-2026-0042", "move_out_on": time.strftime("%Y-%m-%d"),
        "new_postal_code": "100-0001", "new_address": "大阪府見本町本町5番", "persons": [person]}))
    imported = subprocess.run([sys.executable, "-m", "madoguchi", "moving", "import", str(incoming)],
                              env={**server.env, "MADOGUCHI_MOVING_TRUST_ROOTS": str(roots)},
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr

    check, violations = axe_collector()
    mihon = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}, accept_downloads=True).new_page()
    staff_sign_in(mihon, server, DESTINATION, "mihon-admin", PASSWORD, server.totp_secrets["mihon-admin"])
    mihon.get_by_role("link", name="引越し", exact=True).click()
    mihon.get_by_role("link", name="131016-2026-0042").click()
    assert "千代田区（131016）の署名を確かめました" in mihon.locator("main").inner_text()
    mihon.get_by_role("button", name="転入を確定する").click()
    assert "転入を確定しました。" in mihon.content()
    deadline = time.monotonic() + 60
    while "次の送付（夜間の書き出し）を待っています" not in mihon.locator("main").inner_text():
        assert time.monotonic() < deadline, mihon.locator("main").inner_text()
        time.sleep(1)
        mihon.reload()
    check(mihon, "incoming-notice")
    screenshot(mihon, "moving-notice-waiting")
    with mihon.expect_download() as download:
        mihon.get_by_role("button", name="転入通知を書き出す（JSON）").click()
    assert download.value.suggested_filename == "tennyu-notice-131016-2026-0042.json"
    with open(download.value.path(), "rb") as fh:
        payload = json.loads(base64.b64decode(json.load(fh)["payload"]))
    assert payload["kind"] == "tennyu" and payload["origin"] == "131016" and payload["destination"] == DESTINATION
    mihon.reload()
    assert "送付用に書き出しました" in mihon.locator("main").inner_text()
    assert violations == {}, violations
    mihon.context.close()
