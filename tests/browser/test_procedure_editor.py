"""The procedure editor in a real browser: an administrator signs in with password + TOTP,
copies a catalog procedure, changes labels, previews the resident's form, publishes, and
the resident catalog shows the new procedure. axe on every editor page."""

import json
import re

from tests.browser.conftest import axe_violations, screenshot
from tests.server import totp_code

CODE = "139998"


def test_an_administrator_copies_previews_and_publishes_a_procedure(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    violations = {}

    def check(name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill("demo-admin")
    page.get_by_label("パスワード").fill("madoguchi-demo-password")
    page.get_by_label("確認コード（6桁）").fill(totp_code(server.totp_secrets["demo-admin"]))
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))

    page.get_by_role("link", name="手続きの管理").click()
    assert page.get_by_role("link", name="図書館 利用登録").is_visible()
    check("list")
    screenshot(page, "editor-list")
    page.get_by_role("link", name="新しい手続きを作る").click()
    check("new")
    page.get_by_label("識別名（半角英小文字・数字・ハイフン）").fill("toshokan-bunkan")
    page.get_by_label("もとにするもの").select_option(label="標準の手続きをコピー: 図書館 利用登録")
    page.get_by_role("button", name="下書きを作る").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/procedures/\d+/versions/1/$"))
    assert "下書きを作成しました" in page.locator("main").inner_text()
    check("version")
    screenshot(page, "editor-version")

    # The common things through the structured fields...
    page.get_by_label("名称（日本語）", exact=True).fill("図書館 分館の利用登録")
    page.get_by_role("button", name="基本項目を保存する").click()
    assert "下書きを保存しました" in page.locator("main").inner_text()
    # ...and a field's label in the administrators' advanced JSON view, as typed by a person.
    page.get_by_text("上級者向け: 定義全体（JSON）").click()
    editor = page.get_by_label("定義（JSON）")
    definition = json.loads(editor.input_value())
    assert definition["title"]["ja"] == "図書館 分館の利用登録"
    editor.fill(editor.input_value().replace('"ja": "予約の連絡方法"', '"ja": "予約の連絡のしかた"'))
    page.get_by_role("button", name="定義を保存する").click()
    assert "下書きを保存しました" in page.locator("main").inner_text()
    assert "問題はありません" in page.locator("main").inner_text()

    # A draft that breaks the meta-schema is kept, but cannot be published, and says where.
    page.get_by_text("上級者向け: 定義全体（JSON）").click()
    editor = page.get_by_label("定義（JSON）")
    retention = re.search(r'"retention": "([^"]+)"', editor.input_value()).group(0)
    editor.fill(editor.input_value().replace(retention, '"retention": "forever"'))
    page.get_by_role("button", name="定義を保存する").click()
    assert "保存期間: 選べる値ではありません。" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="この版を公開する").is_disabled()
    assert "公開できません" in page.locator("main").inner_text()
    assert "/retention" in page.locator("main").inner_text()  # the path, for the administrator
    check("version-with-problems")
    screenshot(page, "editor-version-problems")
    page.get_by_role("link", name="手続きの版の一覧へ戻る").click()
    page.get_by_role("link", name="第1版").click()
    page.get_by_text("上級者向け: 定義全体（JSON）").click()
    editor = page.get_by_label("定義（JSON）")
    editor.fill(editor.input_value().replace('"retention": "forever"', retention))
    page.get_by_role("button", name="定義を保存する").click()
    assert "問題はありません" in page.locator("main").inner_text()

    # The preview is the resident's form, nothing is submitted.
    page.get_by_role("link", name="住民に表示される画面を別のページで確かめる").click()
    assert page.get_by_role("heading", name="図書館 分館の利用登録", level=1).is_visible()
    assert page.get_by_text("予約の連絡のしかた").is_visible()
    assert "プレビュー" in page.locator("main").inner_text()
    check("preview")
    screenshot(page, "editor-preview")
    page.get_by_role("button", name="確認画面へ進む").click()
    assert "入力してください。" in page.locator("main").inner_text()  # checked, never stored
    page.go_back()
    page.go_back()

    page.get_by_role("button", name="この版を公開する").click()
    assert "第1版を公開しました" in page.locator("main").inner_text()
    assert "第1版を公開中" in page.locator("main").inner_text()
    check("procedure")
    screenshot(page, "editor-procedure")

    # The resident catalog shows it, with the new label on the form.
    page.goto(f"{server.base_url}/{CODE}/procedures/")
    page.get_by_role("link", name=re.compile("図書館 分館の利用登録")).click()
    assert page.url.endswith(f"/{CODE}/procedures/toshokan-bunkan/")

    # A new version of a procedure residents already use: the catalog shows the new version.
    page.goto(f"{server.base_url}/{CODE}/staff/procedures/")
    page.get_by_role("link", name="粗大ごみ収集 申込").click()
    page.get_by_role("button", name="第1版から新しい版を作る").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/procedures/\d+/versions/2/$"))
    page.get_by_label("名称（日本語）", exact=True).fill("粗大ごみ収集 申込（インターネット受付）")
    page.get_by_role("button", name="基本項目を保存する").click()
    page.get_by_role("button", name="この版を公開する").click()
    main = page.locator("main").inner_text()
    assert "第2版を公開中" in main and "公開終了" in main  # version 1 is retired, kept for its applications
    page.goto(f"{server.base_url}/{CODE}/procedures/")
    catalog = page.locator("main").inner_text()
    assert "粗大ごみ収集 申込（インターネット受付）" in catalog
    assert violations == {}, violations
    assert [e for e in errors if "status of 400" not in e] == []  # 400s: the checked preview
    context.close()
