"""The procedure builder in a real browser, on a desktop: a clerk builds and publishes a new
procedure without touching JSON (a section, a text field, a choice field with its choices,
a condition, a fee), the preview shows it, a problem disables publishing until fixed, and
the resident sees the new procedure. Then the same kind of work with the keyboard only.
axe on every page; screenshots in test-artifacts/."""

import re

from tests.browser.conftest import axe_violations, screenshot
from tests.server import totp_code

CODE = "139998"


def signed_in(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill("demo-admin")
    page.get_by_label("パスワード").fill("madoguchi-demo-password")
    page.get_by_label("確認コード（6桁）").fill(totp_code(server.totp_secrets["demo-admin"]))
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))
    return context, page


def test_a_clerk_builds_and_publishes_a_procedure_without_json(server, browser):
    context, page = signed_in(server, browser)
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    # The dashboard's recent actions read as sentences.
    assert "職員がログインしました" in page.locator("main").inner_text()
    assert "staff.signed_in" not in page.locator("main").inner_text()
    check("dashboard")
    screenshot(page, "builder-dashboard")

    page.get_by_role("link", name="手続きの管理").click()
    page.get_by_role("link", name="新しい手続きを作る").click()
    page.get_by_label("識別名（半角英小文字・数字・ハイフン）").fill("kouen-shiyou")
    page.get_by_label("もとにするもの").select_option(label="白紙のひな形")
    page.get_by_role("button", name="下書きを作る").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/procedures/\d+/versions/1/$"))
    version_url = page.url
    main = page.locator("main")
    assert "docs/applications.md" not in main.inner_text()  # the help is in the page
    assert "手続きの作り方" in main.inner_text()

    # Basics: the name and a fixed fee.
    page.get_by_label("名称（日本語）", exact=True).fill("公園の使用許可申請")
    page.get_by_label("名称（英語）", exact=True).fill("Permission to use a park")
    page.get_by_label("手数料", exact=True).select_option("fixed")
    page.get_by_label("定額の手数料（円）").fill("500")
    page.get_by_role("button", name="基本項目を保存する").click()
    assert "下書きを保存しました" in main.inner_text()
    assert "手数料 500円" in page.locator("#preview").inner_text()

    # A new section with a text field.
    page.get_by_label("新しいセクションの見出し（日本語）").fill("使用の内容")
    page.get_by_role("button", name="セクションを追加する").click()
    section = page.locator("#section-1")
    section.get_by_label("新しい項目の名称（日本語）").fill("使用する目的")
    section.get_by_label("種類").select_option("text")
    section.get_by_role("button", name="項目を追加する").click()
    page.wait_for_url(re.compile(r"/fields/1/0/$"))
    page.get_by_label("名称（英語）").fill("Purpose")
    page.get_by_label("必須にする").check()
    page.get_by_role("button", name="この項目を保存する").click()
    assert "項目「使用する目的」を保存しました" in main.inner_text()
    check("field")
    screenshot(page, "builder-field-text")

    # A choice field: without choices it is a problem, named in Japanese, and publishing waits.
    page.goto(version_url)
    section = page.locator("#section-1")
    section.get_by_label("新しい項目の名称（日本語）").fill("使用する公園")
    section.get_by_label("種類").select_option("radio")
    section.get_by_role("button", name="項目を追加する").click()
    page.wait_for_url(re.compile(r"/fields/1/1/$"))
    field_url = page.url
    assert "選択肢を1つ以上入力してください。" in main.inner_text()
    page.goto(version_url)
    problems = page.locator("#problems").inner_text()
    assert "セクション2『使用の内容』の項目『使用する公園』: 選択肢を1つ以上入力してください。" in problems
    assert page.get_by_role("button", name="この版を公開する").is_disabled()
    check("version-with-a-problem")
    screenshot(page, "builder-version-problem")

    # Fixed: the choices, in forms.
    page.get_by_role("link", name="セクション2『使用の内容』の項目『使用する公園』").click()
    assert page.url == field_url
    page.get_by_label("名称（英語）").fill("Park")
    for row, (ja, en, value) in enumerate([("中央公園", "Central Park", "central"), ("その他", "Other", "other")], 1):
        page.get_by_label(f"{row}行目: 選択肢（日本語）").fill(ja)
        page.get_by_label(f"{row}行目: 選択肢（英語）").fill(en)
        page.get_by_label(f"{row}行目: 値（出力される値。半角英数字）").fill(value)
    page.get_by_label("識別名（出力や条件で使う。半角英小文字・数字・「_」）").fill("park")
    # The preview follows what is typed, before saving (builder.js; the server draws it).
    page.locator("#live-preview").get_by_text("中央公園").wait_for()
    assert not page.get_by_label("最小値（数）").is_visible()  # settings of other kinds are hidden
    page.get_by_role("button", name="この項目を保存する").click()
    assert "項目「使用する公園」を保存しました" in main.inner_text()
    assert page.locator("#preview").get_by_label("中央公園").count() == 1  # the resident's radio button

    # A condition: the other park's name only when 「その他」 is chosen.
    page.goto(version_url)
    section = page.locator("#section-1")
    section.get_by_label("新しい項目の名称（日本語）").fill("公園の名前")
    section.get_by_role("button", name="項目を追加する").click()
    page.get_by_label("表示する条件").select_option(label="『使用する公園』が「その他」のとき")
    page.get_by_role("button", name="この項目を保存する").click()
    assert "項目「公園の名前」を保存しました" in main.inner_text()
    check("field-with-condition")
    screenshot(page, "builder-field-condition")

    page.goto(version_url)
    assert "問題はありません。公開できます。" in main.inner_text()
    preview = page.locator("#preview").inner_text()
    for text in ("使用の内容", "使用する目的", "使用する公園", "中央公園", "その他", "公園の名前", "手数料 500円"):
        assert text in preview, text
    assert "条件付き" in page.locator("#section-1").inner_text()
    check("version-ready")
    screenshot(page, "builder-version-ready")
    page.get_by_role("button", name="この版を公開する").click()
    assert "第1版を公開しました" in main.inner_text()

    # The resident sees the new procedure and its form.
    page.goto(f"{server.base_url}/{CODE}/procedures/")
    page.get_by_role("link", name=re.compile("公園の使用許可申請")).click()
    assert page.url.endswith(f"/{CODE}/procedures/kouen-shiyou/")
    check("resident-procedure")
    screenshot(page, "builder-resident-procedure")
    assert violations == {}, violations
    assert [e for e in page.console_errors if "status of 400" not in e] == []
    context.close()


def tab_to(page, matches, limit=250):
    """Presses Tab until the focused element matches (a JS predicate over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!el && ({matches}); }})()"):
            return
    raise AssertionError(f"never reached with Tab: {matches}")


def label_is(text):
    return f"el.labels && el.labels.length && el.labels[0].textContent.trim() === {text!r}"


def submit(page):
    with page.expect_navigation(timeout=60000):
        page.keyboard.press("Enter")


def button_is(text):
    return f"el.tagName === 'BUTTON' && el.textContent.trim() === {text!r}"


def test_the_builder_with_the_keyboard_only(server, browser):
    context, page = signed_in(server, browser)
    page.goto(f"{server.base_url}/{CODE}/staff/procedures/new/")
    tab_to(page, label_is("識別名（半角英小文字・数字・ハイフン）"))
    page.keyboard.type("keyboard-only")
    tab_to(page, button_is("下書きを作る"))
    submit(page)
    assert re.search(r"/versions/1/$", page.url)
    version_url = page.url

    # A section, then a choice field in it, with the keyboard only.
    tab_to(page, label_is("新しいセクションの見出し（日本語）"))
    page.keyboard.type("申込みの内容")
    tab_to(page, button_is("セクションを追加する"))
    submit(page)
    tab_to(page, f"el.closest('#section-1') && {label_is('新しい項目の名称（日本語）')}")
    page.keyboard.type("受け取り方法")
    page.keyboard.press("Tab")  # the kind: a select, changed with the arrow keys
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    page.keyboard.press("ArrowDown")  # 複数行の文字
    page.keyboard.press("ArrowDown")  # 選択肢から1つ（ラジオボタン）
    assert page.evaluate("document.activeElement.value") == "radio"
    tab_to(page, button_is("項目を追加する"))
    submit(page)
    assert re.search(r"/fields/1/0/$", page.url)

    tab_to(page, label_is("1行目: 選択肢（日本語）"))
    page.keyboard.type("窓口")
    page.keyboard.press("Tab")
    page.keyboard.type("At the counter")
    page.keyboard.press("Tab")
    page.keyboard.type("counter")
    tab_to(page, label_is("必須にする"))
    page.keyboard.press("Space")
    tab_to(page, button_is("この項目を保存する"))
    submit(page)
    assert "項目「受け取り方法」を保存しました" in page.locator("main").inner_text()
    assert page.locator("#preview").get_by_label("窓口").count() == 1

    # Moved with the keyboard: the new section above the first one.
    page.goto(version_url)
    tab_to(page, "el.tagName === 'SUMMARY' && el.textContent.includes('セクション2の見出し')", limit=400)
    page.keyboard.press("Enter")  # opens the details
    tab_to(page, button_is("セクションを上へ"))
    submit(page)
    assert "セクションを移動しました" in page.locator("main").inner_text()
    assert "セクション1: 申込みの内容" in page.locator("#form-builder").inner_text()
    page.keyboard.press("Shift+Tab")  # focus starts again from the top of the new page
    tab_to(page, button_is("この版を公開する"))
    screenshot(page, "builder-keyboard-focus-publish")
    submit(page)
    assert "第1版を公開しました" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    context.close()
