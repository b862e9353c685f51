"""The resident's form on a phone (390×844), as GOV.UK / the Digital Agency would have it:
an error summary that takes the focus and links each problem (named by its field) to its
input — walked with the keyboard only —; full-width input accepted; conditional fields shown
only when their condition holds (and, without JavaScript, shown with a note); the children
of 保育所 starting with one block and an 「追加」 button, in place with JavaScript and by a
round trip without. axe on every page; screenshots in test-artifacts."""

import re

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone

CODE = "139998"


def active(page) -> dict:
    return page.evaluate("""() => ({id: document.activeElement.id, tag: document.activeElement.tagName,
        text: document.activeElement.textContent.trim(),
        summary: document.activeElement.hasAttribute('data-error-summary')})""")


def test_the_error_summary_by_keyboard_and_conditional_fields(server, browser):
    page, check, violations = signed_in_on_a_phone(server, browser, CODE)
    page.goto(f"{server.base_url}/{CODE}/procedures/juminhyo-copy/apply/")
    # Conditional fields are hidden (no Tab stop) until their condition holds.
    assert not page.locator("[name=purpose_other]").is_visible()
    assert not page.locator("[name=mailing_address]").is_visible()
    assert not page.get_by_text("「送付先」で「別の住所」を選んだ場合に入力してください。").first.is_visible()
    assert "例：03-1234-5678" in page.locator("#f-phone-help").inner_text()
    check("form")
    screenshot(page, "form-conditional-hidden")
    page.locator("select[name=purpose]").select_option("other")
    page.get_by_label("別の住所").check()
    assert page.locator("[name=purpose_other]").is_visible() and page.locator("[name=mailing_address]").is_visible()
    page.locator("select[name=purpose]").select_option("employment")
    assert not page.locator("[name=purpose_other]").is_visible()
    page.locator("select[name=purpose]").select_option("other")
    page.locator("[name=phone]").fill("")
    page.locator("[name=copies]").fill("０")
    page.get_by_role("button", name="確認画面へ進む").click()

    summary = page.locator("[data-error-summary]")
    summary.wait_for()
    assert active(page)["summary"]  # the focus moved to the summary
    items = summary.locator("li").all_inner_texts()
    assert items == ["日中の連絡先電話番号を入力してください。", "記載する人の範囲を選んでください。",
                     "通数は1以上の数を入力してください。", "使いみち（その他）を入力してください。",
                     "送付先の郵便番号を入力してください。", "送付先の住所を入力してください。"], items
    assert page.locator("[name=purpose_other]").is_visible()  # its condition still holds
    scope = page.locator("fieldset#f-scope")
    assert scope.get_attribute("aria-invalid") == "true" and "f-scope-error" in scope.get_attribute("aria-describedby")
    check("errors")
    screenshot(page, "form-error-summary")

    # Keyboard only: Tab to the first link, Enter: the phone field has the focus.
    page.keyboard.press("Tab")
    assert active(page)["text"] == "日中の連絡先電話番号を入力してください。"
    page.keyboard.press("Enter")
    assert active(page)["id"] == "f-phone"
    page.keyboard.type("０３－１２３４－５６７８")  # full width, as a phone keyboard may type it
    page.keyboard.press("Enter")  # submits the form (not a group's button)
    summary.wait_for()
    assert active(page)["summary"]
    assert "日中の連絡先電話番号" not in summary.inner_text()  # accepted in full width
    page.keyboard.press("Tab")
    assert active(page)["text"] == "記載する人の範囲を選んでください。"
    page.keyboard.press("Enter")
    assert active(page)["id"] == "f-scope-0"
    page.keyboard.press("Space")
    assert page.get_by_label("本人のみ").is_checked()
    screenshot(page, "form-error-keyboard")

    page.locator("[name=copies]").fill("２")
    page.locator("[name=purpose_other]").fill("資格の申請")
    page.get_by_label("住民登録の住所").check()  # the mailing address is no longer asked
    assert not page.locator("[name=mailing_address]").is_visible()
    page.get_by_role("button", name="確認画面へ進む").click()
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/review/$"), timeout=15000)
    main = page.locator("main").inner_text()
    assert "03-1234-5678" in main and "資格の申請" in main and "600" in main
    assert violations == {}, violations
    assert page.console_errors == [] if hasattr(page, "console_errors") else True
    page.context.close()


def test_children_start_with_one_block_and_are_added_in_place(server, browser):
    page, check, violations = signed_in_on_a_phone(server, browser, CODE)
    page.goto(f"{server.base_url}/{CODE}/procedures/hoikusho-nyusho/apply/")
    assert page.locator("fieldset.group__row").count() == 1
    assert not page.get_by_role("button", name="子 1を削除").is_visible()
    assert "12桁の数字です" in page.locator("#f-children-0-mynumber-help").inner_text()
    page.locator("[name='children-0-name']").fill("窓口　三郎")
    page.get_by_role("button", name="子を追加").click()
    assert page.locator("fieldset.group__row").count() == 2
    assert active(page)["id"] == "f-children-1-name"  # the new block's first field has the focus
    assert page.locator("fieldset.group__row").nth(1).locator("legend").first.inner_text() == "子 2"
    assert page.locator("[name='children-1-name']").input_value() == ""
    check("group-added")
    screenshot(page, "form-group-added")
    page.get_by_role("button", name="子 2を削除").click()
    assert page.locator("fieldset.group__row").count() == 1
    # Enter in a text field submits the form; it does not add a block.
    page.locator("[name=facility_1]").press("Enter")
    page.locator("[data-error-summary]").wait_for()
    assert page.locator("fieldset.group__row").count() == 1
    assert "子の生年月日（子 1）を入力してください。" in page.locator("[data-error-summary]").inner_text()
    check("group-errors")
    screenshot(page, "form-group-errors")
    assert violations == {}, violations

    # Without JavaScript: conditional fields are shown with a note, and 「追加」 is a round trip.
    plain = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, java_script_enabled=False)
    plain.add_cookies(page.context.cookies())
    nojs = plain.new_page()
    nojs.goto(f"{server.base_url}/{CODE}/procedures/juminhyo-copy/apply/")
    assert nojs.locator("[name=mailing_address]").is_visible()
    assert nojs.get_by_text("「送付先」で「別の住所」を選んだ場合に入力してください。").first.is_visible()
    screenshot(nojs, "form-conditional-without-javascript")
    nojs.goto(f"{server.base_url}/{CODE}/procedures/hoikusho-nyusho/apply/")
    nojs.locator("[name='children-0-name']").fill("窓口　三郎")
    nojs.get_by_role("button", name="子を追加").click()
    nojs.locator("[name='children-1-name']").wait_for()
    assert nojs.locator("[name='children-0-name']").input_value() == "窓口　三郎"
    screenshot(nojs, "form-group-added-without-javascript")
    plain.close()
    page.context.close()
