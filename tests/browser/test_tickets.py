"""Tickets on the card, as people use them: staff offer the ticket service and a ticket type;
窓口 太郎 binds a ticket to his card on a 390×844 phone, then cancels it — the page says what
cancelling does and the type is offered again; staff see it 取消 on the ticket type's page.
A second type, a day pass, is offered for re-entry and says so on both sides.
Screenshots; axe-core on each page."""

import datetime as dt

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import signed_in_on_a_phone
from tests.browser.test_benefit_payment import staff_page

CODE = "139998"


def test_a_resident_binds_then_cancels_a_ticket_on_a_phone(server, browser):
    staff = staff_page(server, browser, "demo-admin")
    staff.goto(f"{server.base_url}/{CODE}/staff/card-services/")
    offer = staff.locator("section.panel", has=staff.locator("input[name=key][value=tickets]"))
    if offer.get_by_role("button", name="使えるようにする").count():
        offer.get_by_role("button", name="使えるようにする").click()
    staff.goto(f"{server.base_url}/{CODE}/staff/card-services/tickets/")
    staff.get_by_label("イベント").fill("市民音楽祭")
    staff.get_by_label("開催日").fill((dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9, days=1))
                                    .date().isoformat())
    staff.get_by_label("入場の種類（例: 一般、自由席）").fill("一般")
    staff.get_by_role("button", name="チケットの種類を追加する").click()
    assert "チケットの種類を追加しました" in staff.content()
    staff.get_by_label("イベント").fill("夏祭り")  # a day pass: through the gate again and again
    staff.get_by_label("開催日").fill((dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9, days=1))
                                    .date().isoformat())
    staff.get_by_label("入場の種類（例: 一般、自由席）").fill("1日券")
    staff.get_by_label("入場の回数").select_option(label="当日は何度でも（再入場できる）")
    staff.get_by_role("button", name="チケットの種類を追加する").click()
    assert staff.locator("tr", has_text="夏祭り").locator("td").nth(3).inner_text() == "再入場できる"
    assert staff.locator("tr", has_text="市民音楽祭").locator("td").nth(3).inner_text() == "1回だけ"
    assert axe_violations(staff) == []
    screenshot(staff, "tickets-staff-types")

    page, check, violations = signed_in_on_a_phone(server, browser)
    page.goto(f"{server.base_url}/{CODE}/card-services/tickets/")
    assert "再入場できます" in page.locator("section.panel", has_text="夏祭り").inner_text()
    page.locator("section.panel", has_text="市民音楽祭").get_by_role("button", name="カードに結び付ける").click()
    assert "チケットをカードに結び付けました" in page.content()
    body = page.locator("main").inner_text()
    assert "市民音楽祭" in body and "未使用" in body and "取り消すと入場口では使えなくなります" in body
    check("tickets-bound")
    screenshot(page, "tickets-bound")
    page.get_by_role("button", name="このチケットを取り消す").click()
    body = page.locator("main").inner_text()
    assert "チケットを取り消しました。入場口ではもう使えません。" in body and "取消" in body
    assert page.locator("section.panel", has_text="市民音楽祭").get_by_role(
        "button", name="カードに結び付ける").count() == 1  # offered again
    check("tickets-cancelled")
    screenshot(page, "tickets-cancelled")

    staff.get_by_role("link", name="市民音楽祭").click()
    assert "取消" in staff.locator("main").inner_text()
    assert axe_violations(staff) == []
    screenshot(staff, "tickets-staff")
    assert violations == {}, violations
    for p in (page, staff):
        p.context.close()
