"""Every procedure of the starter catalog, end to end in the browser, as a resident on a
phone: sign in with the demo virtual card (taro), fill each form as a person would
(prefilled facts kept, household members picked, individual numbers typed on a phone
keyboard, attachments chosen), review, sign with the card where the procedure needs it,
reach the receipt, and find all ten under "my applications". axe on every form, review and
receipt page. At the end the server's log and database are scanned for the numbers typed.

(test_application_flow.py walks 住民票の写し in detail; it is applied to here again so that
this server holds the whole catalog.)
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tests.applications.helpers import PDF, PNG, as_typed, synthetic_number
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import use_demo_card
from tests.individual_numbers import DEMO_INDIVIDUAL_NUMBERS, card_numbers, scan_server

CODE = "139998"
TODAY = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()
# Made at run time by the check-digit rule (tests/individual_numbers.py holds them all).
APPLICANT, CHILD, SECOND_CHILD, PARENT, NURSERY_CHILD = (synthetic_number(s) for s in (31, 32, 33, 34, 35))


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def fill(page, name, value):
    page.locator(f"[name='{name}']").fill(value)


def choose(page, name, value):
    page.locator(f"input[name='{name}'][value='{value}']").check()


def attach(page, *files):
    page.locator("#f-attachments").set_input_files(
        [{"name": n, "mimeType": t, "buffer": b} for n, t, b in files])


def juminhyo(page):
    fill(page, "phone", "03-0000-0000")
    page.get_by_label("本人のみ").check()
    fill(page, "copies", "1")
    page.locator("select[name=purpose]").select_option("pension")
    page.get_by_label("住民登録の住所").check()


def koseki(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "honseki", "東京都窓口市本町一丁目1番地")
    fill(page, "hittousha", "窓口　太郎")
    page.get_by_label("本人", exact=True).check()
    fill(page, "copies_koseki", "1")
    fill(page, "copies_joseki", "0")
    fill(page, "copies_kaisei", "0")
    page.locator("select[name=purpose]").select_option("other")
    choose(page, "delivery", "other")
    fill(page, "mailing_postal_code", "100-0001")
    fill(page, "mailing_address", "東京都千代田区千代田1番1号")


def tenshutsu(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "move_date", day(14))
    fill(page, "new_postal_code", "530-0001")
    fill(page, "new_address", "大阪府大阪市北区梅田一丁目1番1号")
    fill(page, "new_municipality", "大阪市北区")
    fill(page, "new_household_head", "窓口　太郎")
    # The household from the resident record: the resident picks who moves.
    page.get_by_label("窓口　太郎").check()
    page.get_by_label("窓口　花子").check()
    page.get_by_label("窓口　一郎").check()
    fill(page, "visit_date", day(20))


def jidou(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "applicant_mynumber", as_typed(APPLICANT))  # full-width, grouped: as a phone types it
    page.get_by_label("配偶者がいる").check()
    fill(page, "spouse_name", "窓口　花子")
    fill(page, "children-0-name", "窓口　一郎")
    fill(page, "children-0-birth_date", "2015-05-05")
    choose(page, "children-0-relationship", "child")
    fill(page, "children-0-mynumber", CHILD)
    page.locator("[name='children-0-living_together']").check()
    page.get_by_role("button", name="子を追加").click()  # one block to begin with; the second added in place
    fill(page, "children-1-name", "窓口　二郎")
    fill(page, "children-1-birth_date", "2020-01-10")
    choose(page, "children-1-relationship", "child")
    fill(page, "children-1-mynumber", as_typed(SECOND_CHILD))
    page.locator("[name='children-1-living_together']").check()
    fill(page, "bank_code", "0001")
    fill(page, "branch_code", "001")
    choose(page, "account_type", "ordinary")
    fill(page, "account_number", "1234567")
    fill(page, "account_holder_kana", "マドグチ　タロウ")


def hoikusho(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "applicant_mynumber", PARENT)
    fill(page, "children-0-name", "窓口　三郎")
    fill(page, "children-0-birth_date", "2024-06-01")
    fill(page, "children-0-mynumber", as_typed(NURSERY_CHILD))
    fill(page, "facility_1", "窓口市立本町保育園")
    fill(page, "facility_2", "窓口市立南町保育園")
    fill(page, "start_date", day(60))
    page.locator("select[name=reason]").select_option("work")
    attach(page, ("就労証明書.pdf", "application/pdf", PDF))


def sodai(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "items", "タンス1、自転車1")
    fill(page, "small_items", "1")
    fill(page, "large_items", "1")
    fill(page, "collection_date", day(7))
    attach(page, ("タンス.png", "image/png", PNG))


def toshokan(page):
    fill(page, "phone", "03-0000-0000")
    choose(page, "relation", "resident")
    choose(page, "notify_by", "phone")


def inkan(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "seal_text", "窓口")
    fill(page, "visit_date", day(5))
    attach(page, ("印影.png", "image/png", PNG))


def risai(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "disaster", "令和8年台風第10号")
    fill(page, "damage_date", day(-3))
    choose(page, "property_kind", "dwelling")
    choose(page, "relation", "owner")
    page.locator("input[name=damage][value=roof]").check()
    page.locator("input[name=damage][value=flood_below_floor]").check()
    fill(page, "copies", "2")
    attach(page, ("屋根.png", "image/png", PNG), ("床下.pdf", "application/pdf", PDF))


def zaigai(page):
    fill(page, "phone", "03-0000-0000")
    fill(page, "departure_date", day(30))
    fill(page, "country", "アメリカ合衆国")
    fill(page, "mission", "在ニューヨーク日本国総領事館")
    fill(page, "email", "taro@example.jp")


# slug, how to fill it, signed with the card, status on the receipt
PROCEDURES = [
    ("juminhyo-copy", juminhyo, True, "支払い待ち"),
    ("koseki-certificate", koseki, True, "支払い待ち"),
    ("tenshutsu", tenshutsu, True, "申請済み"),
    ("jidou-teate", jidou, True, "申請済み"),
    ("hoikusho-nyusho", hoikusho, True, "申請済み"),
    ("sodai-gomi", sodai, False, "支払い待ち"),
    ("toshokan-riyou", toshokan, False, "申請済み"),
    ("inkan-touroku", inkan, True, "支払い待ち"),
    ("risai-shoumei", risai, False, "申請済み"),
    ("zaigai-senkyo", zaigai, True, "申請済み"),
]


@pytest.fixture(scope="module")
def resident(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    yield page
    context.close()


RECEIPTS = {}
# What the receipt must say as a resident reads it (names, labels, the era), never raw values.
SHOWN = {
    "tenshutsu": ["窓口　太郎、窓口　花子、窓口　一郎"],
    "jidou-teate": ["（1）子の氏名: 窓口　一郎", "続柄: 子", "同居している: ✓", "平成27年5月5日（2015年5月5日）"],
    "hoikusho-nyusho": ["（1）子の氏名: 窓口　三郎", "令和6年6月1日（2024年6月1日）"],
}


@pytest.mark.parametrize("slug, how, signs, status", PROCEDURES, ids=[p[0] for p in PROCEDURES])
def test_apply(server, resident, slug, how, signs, status):
    page = resident
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    page.goto(f"{server.base_url}/{CODE}/procedures/{slug}/apply/")
    assert page.locator("[name=applicant_name]").input_value() == "窓口　太郎"  # prefilled from the card
    check("form")
    how(page)
    screenshot(page, f"e2e-{slug}-form")
    # Chromium's full-page capture leaves the emulated viewport off, and a click can then
    # miss a button far down a long form: set the phone viewport again.
    page.set_viewport_size({"width": 390, "height": 845})
    page.set_viewport_size({"width": 390, "height": 844})
    with page.expect_navigation():
        page.get_by_role("button", name="確認画面へ進む").click()
    assert page.url.endswith("/review/"), page.locator("main").inner_text()[:3000]
    main = page.locator("main").inner_text()
    for number in (APPLICANT, CHILD, SECOND_CHILD, PARENT, NURSERY_CHILD):
        assert number not in main and number[4:] not in main  # masked on the review page
    check("review")
    if signs:
        page.get_by_role("button", name="電子署名して申請する").click()
        page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
        use_demo_card(page, password="MADO2026")
    else:
        page.get_by_role("button", name="申請する", exact=True).click()
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=20000)
    main = page.locator("main").inner_text()
    receipt = re.search(r"受付番号:\s*(\S+)", main)
    assert receipt, main[:2000]
    # The status page leads with what happens next; the status reached is the history's last entry.
    history = re.findall(r"\d+時\d{2}分 (\S+)", main.split("状態の履歴", 1)[-1])
    assert history and history[-1] == status, main[:2000]
    for text in SHOWN.get(slug, []):
        assert text in main, main[:3000]
    assert "True" not in main and "100001" not in main
    check("receipt")
    screenshot(page, f"e2e-{slug}-receipt")
    RECEIPTS[slug] = receipt.group(1)
    assert violations == {}, violations


def test_my_applications_lists_all_ten(server, resident):
    assert len(RECEIPTS) == len(PROCEDURES), "an application above failed"
    page = resident
    page.goto(f"{server.base_url}/{CODE}/applications/")
    main = page.locator("main").inner_text()
    for slug, receipt in RECEIPTS.items():
        assert receipt in main, slug
    assert len(set(RECEIPTS.values())) == 10
    assert axe_violations(page) == []
    screenshot(page, "e2e-my-applications")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_numbers_typed_are_nowhere_but_sealed(server):
    typed = {APPLICANT, CHILD, SECOND_CHILD, PARENT, NURSERY_CHILD}
    assert typed <= set(DEMO_INDIVIDUAL_NUMBERS)
    needles = set(DEMO_INDIVIDUAL_NUMBERS) | card_numbers(server.env["MADOGUCHI_DATA_DIR"])
    assert scan_server(server, needles) == []
