"""A resident on a phone (390×844) types their My Number into the damage description of
罹災証明書: the form warns before review, naming the field, with both ways on (mask it, or
say it is not one) and the field still there to edit; going on with the mask, the review
page and the receipt show only the mask. axe on each page; screenshots in test-artifacts.
The server's database is scanned for the number when the module ends (tests/server.py)."""

import re

from tests.applications.helpers import as_typed, synthetic_number
from tests.browser.conftest import screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone

CODE = "139998"
NUMBER = synthetic_number(43)  # a demo number: the scans after the suite look for it
MASKED = f"{NUMBER[:4]} **** ****"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_the_damage_description_warns_and_masks_on_a_phone(server, browser):
    page, check, violations = signed_in_on_a_phone(server, browser, CODE)

    page.goto(f"{server.base_url}/{CODE}/procedures/risai-shoumei/apply/")
    page.locator("[name=phone]").fill("03-0000-0000")
    page.locator("[name=disaster]").fill("令和8年台風第10号")
    page.locator("[name=damage_date]").fill("2026-09-01")
    page.get_by_label("住家", exact=True).check()
    page.get_by_label("所有者").check()
    page.get_by_label("床下浸水").check()
    page.get_by_label("被害の状況（具体的に）").fill(f"台所が床下浸水。マイナンバーは{as_typed(NUMBER)}です。")
    page.locator("[name=copies]").fill("1")
    page.locator("input[name=attachments]").set_input_files(
        files=[{"name": "damage.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="確認画面へ進む").click()

    warning = page.get_by_role("alert")
    warning.get_by_role("heading", name="マイナンバー（個人番号）が入力されていませんか").wait_for()
    assert "「被害の状況（具体的に）」に、マイナンバー（個人番号）と思われる12桁の番号があります。" in warning.inner_text()
    field = page.get_by_label("被害の状況（具体的に）")
    assert field.get_attribute("aria-invalid") == "true"
    assert field.input_value().endswith(f"{as_typed(NUMBER)}です。")  # still there to edit
    assert page.get_by_role("button", name="番号を伏せて進む").is_visible()
    assert page.get_by_role("button", name="マイナンバーではありません。このまま進む").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    check("warning")
    screenshot(page, "mynumber-in-text-warning")

    page.get_by_role("button", name="番号を伏せて進む").click()
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/review/$"), timeout=15000)
    main = page.locator("main").inner_text()
    assert f"マイナンバーは{MASKED}です。" in main and "damage.png" in main
    check("review")
    screenshot(page, "mynumber-in-text-review")
    page.get_by_role("button", name="申請する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=15000)
    assert re.search(r"受付番号:\s*\S+", page.locator("main").inner_text())
    check("receipt")
    assert violations == {}
    page.context.close()
