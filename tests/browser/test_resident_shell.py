"""A new resident on a 390×844 phone (issue 17): from the top page through the menu to a
procedure, 申請をはじめる → the sign-in page saying why → the card step → back at the
form, a signed application, its status page, and back at the top page that shows what
needs them — no dead end. axe-core on every page; screenshots in test-artifacts/."""

import re

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import CODE, use_demo_card


def test_a_new_resident_on_a_phone_from_the_top_page_to_a_signed_application_and_back(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    violations = {}

    def look(name):
        found = axe_violations(page)
        if found:
            violations[name] = found
        screenshot(page, f"shell-{name}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name

    page.goto(f"{server.base_url}/{CODE}/")
    assert page.get_by_role("link", name="ログイン", exact=True).is_visible()
    look("top-visitor")
    # The compact menu: a <details> that works without JavaScript.
    page.get_by_text("メニュー", exact=True).click()
    menu = page.get_by_role("navigation", name="メインメニュー（スマートフォン）")
    assert menu.is_visible() and not page.get_by_role("navigation", name="メインメニュー", exact=True).is_visible()
    look("menu-open")
    menu.get_by_role("link", name="手続き", exact=True).click()
    page.get_by_role("link", name=re.compile("住民票の写し")).first.click()
    page.get_by_role("link", name="申請をはじめる").click()

    # Signed out: the sign-in page says why, and brings the resident back to the form.
    page.wait_for_url(re.compile(rf"/{CODE}/login/\?next="))
    assert "申請をはじめるには、ログインが必要です。" in page.locator("main").inner_text()
    look("login-with-reason")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    main = page.locator("main").inner_text()
    assert "オンライン窓口で本人確認をしてログインします" in main
    assert page.get_by_role("link", name="カード読み取りアプリを開く").is_visible()  # a phone: the app link…
    assert not page.locator(".qr--desktop img").is_visible()  # …not a QR code to scan with itself
    assert "madoguchi card ceremony" not in page.locator("main > :not(details)").all_inner_texts()
    look("card-step-login")
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/procedures/juminhyo-copy/apply/$"), timeout=15000)

    # Signed in: the header says who, the form is where the resident was going.
    assert page.locator(".resident-bar__who").inner_text() == "窓口　太郎 さん"
    page.locator("[name=phone]").fill("03-0000-0000")
    page.get_by_label("本人のみ").check()
    page.locator("[name=copies]").fill("2")
    page.locator("select[name=purpose]").select_option("employment")
    page.locator("input[name=delivery]").first.check()
    page.get_by_role("button", name="確認画面へ進む").click()
    assert "1,200円" in page.locator("main").inner_text() or "600円" in page.locator("main").inner_text()
    page.get_by_role("button", name="電子署名して申請する").click()
    page.get_by_role("heading", name="マイナンバーカードを読み取ってください").wait_for()
    purpose = page.locator("main .lead").inner_text()
    assert re.fullmatch(r"住民票の写し等の交付請求に電子署名します（手数料 [\d,]+円）", purpose), purpose
    look("card-step-sign")
    use_demo_card(page, password="MADO2026")
    page.wait_for_url(re.compile(rf"/{CODE}/applications/[0-9a-f-]+/$"), timeout=20000)

    # The status page: what needs doing first, the receipt number prominent, withdrawing secondary.
    main = page.locator("main").inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == "手数料のお支払いをお願いします"
    assert re.search(r"受付番号:\s*\S+", main) and re.search(r"手数料 [\d,]+円", main)
    assert not page.get_by_role("button", name="取り下げを確定する").is_visible()  # inside a closed <details>
    look("status-payment-required")
    status_url = page.url

    # Back to the top page: it shows this application first, no sign-in panel, no wrong "no notices".
    page.get_by_role("link", name="窓口市 オンライン窓口").click()
    main = page.locator("main").inner_text()
    assert "対応が必要な申請" in main and "住民票の写し等の交付請求" in main and "お支払いをお待ちしています" in main
    assert "マイナンバーカードでログイン" not in main and "現在、お知らせはありません" not in main
    look("top-signed-in")
    page.get_by_role("link", name="住民票の写し等の交付請求").first.click()
    assert page.url == status_url
    page.get_by_text("メニュー", exact=True).click()
    page.get_by_role("navigation", name="メインメニュー（スマートフォン）").get_by_role("link", name="お知らせ").click()
    main = page.locator("main").inner_text()
    assert "ログインすると" not in main and "未読" in main
    look("notices-signed-in")
    assert violations == {}
    context.close()


def test_on_a_desktop_the_card_step_shows_the_qr_code(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/login/")
    page.get_by_role("button", name="ログインする", exact=True).click()
    assert page.locator(".qr--desktop img").is_visible()
    assert not page.get_by_role("link", name="カード読み取りアプリを開く").is_visible()
    assert page.get_by_role("navigation", name="メインメニュー", exact=True).is_visible()
    assert axe_violations(page) == []
    screenshot(page, "shell-card-step-desktop")
    context.close()
