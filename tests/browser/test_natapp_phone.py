"""The national-app path end to end on a phone-sized page (390×844), in chromium against a
real server process: the municipality switched to 「スマートフォンで読み取る」 with the CLI, a
resident identifies through the national app (its stand-in, in this process, reading the
demo's virtual card), then files a 転出届 signed through it — no PC/SC reader, no card
client. Screenshots of each step; axe-core on madoguchi's pages."""

import re
from pathlib import Path

import pytest

from madoguchi.standins.natapp import NatAppStandIn
from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_casework_flow import fill_tenshutsu
from tests.server import madoguchi

CODE = "139998"
CLIENT_ID = "RP-DEMO-139998"


@pytest.fixture(scope="module")
def standin(server):
    data_dir = Path(server.env["MADOGUCHI_DATA_DIR"])
    provider = NatAppStandIn(data_dir / "cards", data_dir).start()
    provider.register_client(CLIENT_ID, [f"{server.base_url}/{CODE}/natapp/callback/"],
                             jwks_uri=f"{server.base_url}/{CODE}/natapp/jwks", name="窓口市 オンライン窓口")
    madoguchi(server.env, "natapp", "configure", "--municipality", CODE, "--issuer", provider.issuer,
              "--client-id", CLIENT_ID)
    madoguchi(server.env, "card_paths", "--municipality", CODE, "--enable", "national-app",
              "--disable", "demo-virtual-card")
    yield provider
    provider.stop()


def read_with_the_app(page, *, password=None):
    """On the waiting page: 「スマートフォンで読み取る」, then the app's (stand-in's) page."""
    page.get_by_role("button", name="スマートフォンで読み取る").click()
    page.get_by_role("heading", name="マイナンバーカードの読み取り").wait_for()
    page.get_by_label("読み取るカード（仮想カード）").select_option("taro")
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1234")
    if page.get_by_label("券面事項入力補助用の暗証番号（数字4桁）").count():
        page.get_by_label("券面事項入力補助用の暗証番号（数字4桁）").fill("5678")
    if password is not None:
        page.get_by_label("署名用電子証明書のパスワード（英数字6〜16桁）").fill(password)
    return page


def test_identify_and_a_signed_tenshutsu_through_the_app(server, browser, standin):
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    assert page.get_by_role("button", name="スマートフォンで読み取る").is_visible()
    assert page.get_by_text("デモ: このパソコンの仮想カードを使う").count() == 0  # switched off by the CLI
    check("wait-identify")
    screenshot(page, "natapp-wait-identify")
    read_with_the_app(page)
    screenshot(page, "natapp-standin-identify")
    page.get_by_role("button", name="読み取って同意する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=20000)
    assert "窓口　太郎" in page.locator("main").inner_text()
    check("account")
    screenshot(page, "natapp-account")

    page.goto(f"{server.base_url}/{CODE}/procedures/tenshutsu/apply/")
    fill_tenshutsu(page, "03-0000-0000")
    page.get_by_role("button", name="確認画面へ進む").click()
    page.get_by_role("button", name="電子署名して申請する").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    check("wait-sign")
    screenshot(page, "natapp-wait-sign")
    read_with_the_app(page, password="MADO2026")
    assert "署名する内容の SHA-256" in page.locator("main").inner_text()
    screenshot(page, "natapp-standin-sign")
    page.get_by_role("button", name="読み取って同意する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=20000)
    text = page.locator("main").inner_text()
    assert re.search(r"受付番号:\s*\S+", text) and "転出届" in text
    check("application")
    screenshot(page, "natapp-application")
    assert not page.console_errors if hasattr(page, "console_errors") else True
    assert not violations, violations
    context.close()
