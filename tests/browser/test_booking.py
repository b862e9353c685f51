"""A resident on a phone (390×844) books a visit to the demo's counter: chooses the counter,
types the purpose, picks a day and a time, sees the booking with its QR code, changes the
time, cancels. Screenshots in test-artifacts/; axe-core finds nothing on any page."""

import re

from tests.browser.conftest import screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone

CODE = "139998"


def test_book_change_and_cancel_a_visit_on_a_phone(server, browser):
    page, check, violations = signed_in_on_a_phone(server, browser)
    page.goto(f"{server.base_url}/{CODE}/account/")
    page.get_by_role("link", name="来庁予約").click()
    page.wait_for_url(re.compile(rf"/{CODE}/bookings/$"))
    check("bookings-empty")
    page.get_by_role("link", name="新しく予約する").click()
    page.get_by_label("市民課 転入・転出窓口", exact=False).check()
    page.get_by_label("用件（例: 転入の手続き）").fill("転入の手続き")
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("日", exact=True).select_option(index=1)
    page.get_by_role("button", name="空いている時間を見る").click()
    check("bookings-slots")
    screenshot(page, "booking-slots")
    page.get_by_role("radio", name=re.compile(r"^10:00")).check()
    page.get_by_role("button", name="この時間で予約する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/bookings/[0-9a-f-]+/$"))
    body = page.locator("main").inner_text()
    assert "来庁予約を受け付けました。" in page.content() and "10時00分" in body and "転入の手続き" in body
    assert page.get_by_role("img", name="予約のQRコード").is_visible()
    check("booking-detail")
    screenshot(page, "booking-detail")
    page.get_by_role("link", name="日時を変更する").click()
    page.get_by_label("日", exact=True).select_option(index=1)
    page.get_by_role("button", name="空いている時間を見る").click()
    page.get_by_role("radio", name=re.compile(r"^11:00")).check()
    page.get_by_role("button", name="この時間に変更する").click()
    assert "予約の日時を変更しました。" in page.content() and "11時00分" in page.locator("main").inner_text()
    page.get_by_role("button", name="予約を取り消す").click()
    page.wait_for_url(re.compile(rf"/{CODE}/bookings/$"))
    assert "予約を取り消しました。" in page.content() and "予約はありません。" in page.locator("main").inner_text()
    check("bookings-cancelled")
    assert not violations, violations


def test_staff_see_the_counters_and_the_day_list(server, browser):
    from tests.browser.conftest import axe_violations
    from tests.browser.test_benefit_payment import staff_page

    page = staff_page(server, browser, "demo-admin")
    page.get_by_role("link", name="来庁予約").first.click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/bookings/$"))
    assert "市民課 転入・転出窓口" in page.locator("main").inner_text()
    found = {"counters": axe_violations(page)}
    screenshot(page, "booking-staff-counters")
    page.get_by_role("link", name="市民課 転入・転出窓口").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/bookings/\d+/$"))
    found["day"] = axe_violations(page)
    screenshot(page, "booking-staff-day")
    assert {k: v for k, v in found.items() if v} == {}
    page.context.close()
