"""The library's self-checkout page in chromium with a real terminal process: the server, `madoguchi
terminal run --service library --library chuo` (reading virtual cards through pcscd + vpcd, asking the server's
library API with the library's credential) and the page calling the agent. 花子's card shows
her patron number without a PIN, and so does her renewed card; a card with no link, a revoked
card and no card each say what to do; the number leaves the screen when she is done, or
by itself."""

import pytest
import requests

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_kiosk_gate import CODE, terminal_system
from tests.card.conftest import pcscd, vpcd_slot  # noqa: F401  (fixtures)


@pytest.fixture
def self_checkout(tmp_path, vpcd_slot):
    with terminal_system(tmp_path, vpcd_slot, "tests.library.seed_live", "--service", "library", "--library", "chuo",
                         "--library-credential-file", str(tmp_path / "library-credential")) as (server, seed, port):
        yield server, seed, port, tmp_path


def test_the_self_checkout_shows_the_patron_number_of_the_card_without_a_pin(self_checkout, vpcd_slot, page):
    from madoguchi.card import virtual

    server, seed, port, data = self_checkout
    holder, _ = vpcd_slot
    assert requests.post(f"http://127.0.0.1:{port}/patron",
                         headers={"Origin": "https://evil.example"}).status_code == 403

    def insert(name):
        holder.card = virtual.VirtualCard(data / "cards" / name)
        holder.card.power_on()

    def read():
        page.get_by_role("button", name="カードを読み取る").click()
        result = page.locator("#self-checkout-result")
        result.filter(has_not_text="読み取っています").wait_for()
        page.wait_for_function("!document.getElementById('self-checkout-read').disabled")
        return result.inner_text()

    page.set_viewport_size({"width": 800, "height": 1280})  # a self-checkout's portrait screen
    page.goto(f"{server.base_url}/{CODE}/library/chuo/self-checkout/?agent={port}")
    assert page.get_by_role("heading", name="自動貸出機").is_visible()
    assert "中央図書館" in page.locator("header").inner_text()
    insert("hanako")
    shown = read()
    assert seed["patron_number"] in shown and "貸出の手続きに進んでください" in shown
    assert page.locator("#self-checkout-number").inner_text() == seed["patron_number"]
    screenshot(page, "library-self-checkout-patron")
    assert axe_violations(page) == []
    page.get_by_role("button", name="終わる（画面から番号を消す）").click()  # the next person must not see it
    assert seed["patron_number"] not in page.locator("body").inner_text()
    assert page.get_by_role("button", name="終わる（画面から番号を消す）").is_hidden()

    insert("hanako-renewed")  # a new card of the same Person: the same number
    assert seed["patron_number"] in read()
    insert("stranger")
    shown = read()
    assert "利用者番号が登録されていません" in shown and f"/{CODE}/card-services/library/" in shown
    assert page.locator("#self-checkout-patron").is_hidden()
    insert("revoked")
    assert "失効しているため使えません" in read()
    screenshot(page, "library-self-checkout-revoked")
    holder.card = None
    assert "読み取れませんでした" in read()
    assert axe_violations(page) == []
    # The agent answers "no card" with 409, "not linked" 404 and "revoked" 403, which chromium
    # logs as failed resources: expected.
    expected = ("409 (Conflict)", "404 (Not Found)", "403 (Forbidden)")
    assert [e for e in page.console_errors if not any(status in e for status in expected)] == []

    # Walked away without pressing 終わる: the number leaves the screen by itself (a minute;
    # a second here).
    page.evaluate("document.getElementById('self-checkout').setAttribute('data-clear-after', '1')")
    insert("hanako")
    assert seed["patron_number"] in read()
    page.locator("#self-checkout-patron").wait_for(state="hidden", timeout=10_000)
    assert seed["patron_number"] not in page.locator("body").inner_text()

