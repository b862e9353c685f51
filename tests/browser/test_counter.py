"""書かない窓口 in chromium with the local card agent as its own process: the demo's 窓口
花子 card is served through PC/SC (pcscd + vpcd); `madoguchi terminal run` answers the staff
page's `POST /face` for the server's origin. A staff member types a wrong 照合番号B (tries
left shown), then the right one: the server verifies the raw bytes, shows the facts and the
photo; eight procedures are chosen and shown prefilled; one is completed; the second screen
(open before) follows by polling and shows it read-only; the resident signs it there with the
card (the agent runs the `sign` ceremony); it is filed and reaches the inbox flagged as made
at the counter. Before all that, the PIN path on the resident's own screen (the desk screen,
opened once): staff ask for the PIN, a wrong text PIN there (tries left), the right one, the
staff page following; then the same on the staff page (the fallback without a second display)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from madoguchi.card import face, virtual
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_benefit_payment import staff_page
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401 — the PC/SC fixtures
from tests.server import fresh_database_url, free_port, madoguchi, start, stop_process

CODE = "139998"


@pytest.fixture(scope="module")
def agent_port():
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory, agent_port):
    url, drop = fresh_database_url("counter")
    srv = start(tmp_path_factory.mktemp("server"), url, MADOGUCHI_COUNTER_AGENT_URL=f"http://127.0.0.1:{agent_port}")
    yield srv
    srv.stop()
    drop()


@pytest.fixture(scope="module")
def agent(server, vpcd_slot, agent_port, tmp_path_factory):  # noqa: F811
    holder, reader = vpcd_slot
    data = tmp_path_factory.mktemp("agent")
    card_dir = data / "hanako"
    shutil.copytree(f"{server.env['MADOGUCHI_DATA_DIR']}/cards/hanako", card_dir)
    holder.card = virtual.VirtualCard(card_dir)
    madoguchi(server.env, "terminal", "keygen", "--out", str(data / "terminal.pem"))
    process = subprocess.Popen(
        [sys.executable, "-m", "madoguchi", "terminal", "run", "--server", server.base_url, "--municipality", CODE,
         "--terminal-id", "counter-1", "--key", str(data / "terminal.pem"), "--state", str(data), "--reader", reader,
         "--origin", server.base_url, "--port", str(agent_port), "--interval", "600"],
        env=server.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert "listening" in process.stdout.readline()
    text = json.loads((card_dir / "card.json").read_text())["text"]
    import datetime as dt

    yield face.code_b(dt.date.fromisoformat(text["birth"]), int(text["card_expiry"][:4]), text["security_code"])
    stop_process(process)


def test_counter_read_prefill_check_and_file(server, browser, agent):
    code = agent
    page = staff_page(server, browser, "demo-admin")
    page.get_by_role("link", name="書かない窓口").click()
    # The resident's screen, opened once on the second display: it follows the desk by itself.
    screen = page.context.new_page()
    screen.set_viewport_size({"width": 390, "height": 844})
    with page.context.expect_page() as opened:
        page.get_by_role("link", name=re.compile("住民の方の画面を開く")).click()
    opened.value.close()  # the link opens it; the test drives its own page at the same address
    screen.goto(f"{server.base_url}/{CODE}/staff/counter/desk/")
    assert screen.get_by_role("heading", name="窓口").is_visible()
    # The PIN path first: staff ask for the PIN; the resident types it on their own screen
    # (wrong once: tries left there), then the right one; the staff page follows the visit.
    page.get_by_role("button", name="住民の方の画面で暗証番号を入力してもらう").click()
    assert "入力を待っています" in page.locator("#desk-waiting").inner_text()
    screen.get_by_role("heading", name="暗証番号を入力してください").wait_for(timeout=10000)
    screen.locator("#desk-pin-input").fill("0000")
    screen.get_by_role("button", name="読み取る").click()
    message = screen.locator("#desk-message")
    message.wait_for(state="visible", timeout=15000)
    assert "残り2回" in message.inner_text()
    assert axe_violations(screen) == []
    screenshot(screen, "counter-desk-pin")
    screen.locator("#desk-pin-input").fill("5678")
    screen.get_by_role("button", name="読み取る").click()
    screen.wait_for_url(re.compile(r"/staff/counter/[0-9a-f-]+/screen/$"), timeout=20000)
    page.get_by_role("heading", name="来庁者の受付").wait_for(timeout=20000)  # by its own polling
    assert "窓口　花子" in page.locator("#fact-name").inner_text()
    assert "暗証番号" in page.locator("#fact-method").inner_text() and page.locator("#face-photo").count() == 0
    page.get_by_role("button", name="申請せずに終了する（読み取った内容を消去）").click()
    screen.wait_for_url(re.compile(r"/staff/counter/desk/$"), timeout=15000)  # standby for the next resident
    # The fallback without a second display: the PIN typed on the staff page.
    page.locator("summary", has_text="2画面目がないとき").click()
    page.locator("#counter-pin-input").fill("0000")
    page.get_by_role("button", name="暗証番号で読み取る").click()
    message = page.locator("#agent-message")
    message.wait_for(state="visible", timeout=15000)
    assert "残り2回" in message.inner_text()
    page.locator("#counter-pin-input").fill("5678")
    page.get_by_role("button", name="暗証番号で読み取る").click()
    page.get_by_role("heading", name="来庁者の受付").wait_for(timeout=20000)
    page.get_by_role("button", name="申請せずに終了する（読み取った内容を消去）").click()
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    page.locator("[name=code_b]").fill(wrong)
    page.get_by_role("button", name="カードを読み取る").click()
    message = page.locator("#agent-message")
    message.wait_for(state="visible", timeout=15000)
    assert re.search(r"残り\d+回", message.inner_text())
    page.locator("[name=code_b]").fill(code)
    page.get_by_role("button", name="カードを読み取る").click()
    page.get_by_role("heading", name="来庁者の受付").wait_for(timeout=20000)
    assert "窓口　花子" in page.locator("#fact-name").inner_text()
    assert page.locator("#face-photo").evaluate("img => img.naturalWidth") > 0
    screenshot(page, "counter-read")
    boxes = page.locator("input[name=procedures]")
    for i in range(min(8, boxes.count())):
        boxes.nth(i).check()
    page.get_by_role("button", name="手続きを選ぶ").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/counter/[0-9a-f-]+/$"))
    assert page.locator("section[id^=procedure-]").count() == 8
    assert "紙に署名する8件の申請書をまとめて印刷する" in page.locator("#print-all").inner_text()
    screenshot(page, "counter-procedures")
    visit_url = page.url
    # Keep one procedure (粗大ごみ) for filing: choose only it, complete it.
    for i in range(boxes.count()):
        box = page.locator("input[name=procedures]").nth(i)
        if box.get_attribute("value") != "sodai-gomi":
            box.uncheck()
        else:
            box.check()
    page.get_by_role("button", name="手続きを選ぶ").click()
    # The resident's screen went from standby to this visit's forms by itself.
    screen.wait_for_url(visit_url + "screen/", timeout=15000)
    assert "（1982年8月15日）" in screen.locator("#screen-birth").inner_text()
    assert "昭和57年" in screen.locator("#screen-birth").inner_text()
    page.goto(visit_url + "procedures/sodai-gomi/")
    assert page.locator("[name=applicant_name]").input_value() == "窓口　花子"
    import datetime as dt

    page.locator("[name=collection_address]").fill("東京都窓口市本町一丁目1番1号")
    page.locator("[name=phone]").fill("03-0000-0000")
    page.locator("[name=items]").fill("タンス1")
    page.locator("[name=small_items]").fill("1")
    page.locator("[name=large_items]").fill("0")
    page.locator("[name=collection_date]").fill((dt.date.today() + dt.timedelta(days=10)).isoformat())
    page.get_by_role("button", name="この内容で確認済みにする").click()
    page.wait_for_url(visit_url)
    screen.get_by_text("タンス1", exact=True).wait_for(timeout=15000)  # reloaded by its polling, not by anyone
    assert "窓口　花子" in screen.content()
    # The resident signs the checked form with the card: the password typed on the screen
    # goes to the local agent, which runs the `sign` ceremony with the card.
    screen.locator("#password-sodai-gomi").fill("MADO2026")
    screen.get_by_role("button", name="この内容でカードで署名する").click()
    screen.locator("#signed-sodai-gomi").wait_for(timeout=30000)
    screenshot(screen, "counter-second-screen")
    page.reload()
    assert "カードで電子署名済み" in page.content()
    page.get_by_role("button", name="すべての手続きを申請する").click()
    page.get_by_role("heading", name="申請しました").wait_for()
    receipt = page.locator(".receipt").first.inner_text().strip()
    assert re.fullmatch(r"\d{4}-\d{7}", receipt)


def test_the_seal_check_reads_the_card_through_the_counters_agent(server, browser, agent, vpcd_slot):  # noqa: F811
    """窓口 太郎 (a seal registration in the demo) chooses his card as his 印鑑登録証 on his
    phone; at the counter the staff page asks the agent for the card's certificate (no PIN,
    nothing pasted) and shows that it may stand for the plastic card; 花子's card (no choice)
    is refused with the reason; no card → place it again."""
    from tests.browser.test_application_flow import signed_in_on_a_phone

    holder, _reader = vpcd_slot
    staff = staff_page(server, browser, "demo-admin")
    staff.goto(f"{server.base_url}/{CODE}/staff/card-services/")
    offer = staff.locator("section.panel", has=staff.locator("input[name=key][value=seal]"))
    if offer.get_by_role("button", name="使えるようにする").count():
        offer.get_by_role("button", name="使えるようにする").click()

    phone, check, violations = signed_in_on_a_phone(server, browser)
    phone.goto(f"{server.base_url}/{CODE}/card-services/seal/")
    phone.get_by_role("button", name="マイナンバーカードを印鑑登録証として使う").click()
    assert "印鑑登録証として使えるようにしました" in phone.locator("main").inner_text()
    check("seal-chosen")
    phone.context.close()

    taro = Path(server.env["MADOGUCHI_DATA_DIR"]) / "cards" / "taro"
    holder.card = virtual.VirtualCard(taro)
    holder.card.power_on()
    staff.goto(f"{server.base_url}/{CODE}/staff/card-services/seal/")
    staff.get_by_role("button", name="カードを読み取って確認する").click()
    answer = staff.locator("#seal-answer")  # the page comes back with the server's answer
    answer.wait_for(timeout=20000)
    assert "印鑑登録証として使えます" in answer.inner_text() and "S-000101" in answer.inner_text()
    assert axe_violations(staff) == []
    screenshot(staff, "seal-check-read")

    hanako = Path(server.env["MADOGUCHI_DATA_DIR"]) / "cards" / "hanako"
    holder.card = virtual.VirtualCard(hanako)
    holder.card.power_on()
    staff.get_by_role("button", name="カードを読み取って確認する").click()
    refused = staff.locator("#seal-answer.panel--warning")
    refused.wait_for(timeout=20000)
    assert "S-000101" not in refused.inner_text()

    holder.card = None
    staff.get_by_role("button", name="カードを読み取って確認する").click()
    staff.locator("#seal-read-message", has_text="読み取れませんでした").wait_for(timeout=20000)
    assert violations == {}, violations
    staff.context.close()
