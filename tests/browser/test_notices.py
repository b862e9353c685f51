"""A resident on a phone opens the account page's notification settings: the portal's
service worker registers (scope /<code>/), 「通知を受け取る」 is offered, a device's
subscription (made by the test: no vendor push service is reachable here) is posted the way
the page's script posts it and then listed, removable; an e-mail address is refused
naming the field; axe finds nothing."""

import json
import re

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_application_flow import use_demo_card
from tests.notices.pushservice import Device

CODE = "139998"


def test_notification_settings_on_a_phone(server, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server.base_url}/{CODE}/login/?next=/{CODE}/account/")
    page.get_by_role("button", name="本人確認をしてログインする").click()
    use_demo_card(page, password="MADO2026")
    try:
        page.wait_for_url(re.compile(rf"/{CODE}/account/$"), timeout=15000)
    except Exception:
        screenshot(page, "notices-sign-in-failed")
        raise
    page.locator("#push-status[data-registered=true]").wait_for(state="attached", timeout=10000)
    scope = page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).scope")
    assert scope == f"{server.base_url}/{CODE}/"
    assert page.get_by_role("button", name="通知を受け取る").is_visible()
    assert page.locator("#cat-emergency").is_disabled() and page.locator("#cat-emergency").is_checked()

    subscription = Device(id="phone").subscription("https://push.example")
    status = page.evaluate("""async (body) => {
        const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
        const r = await fetch('/%s/account/push/', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: body});
        return r.status; }""" % CODE, json.dumps(subscription))
    assert status == 201
    bad = page.evaluate("""async (body) => {
        const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
        const r = await fetch('/%s/account/push/', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: body});
        return [r.status, await r.json()]; }""" % CODE,
        json.dumps({**subscription, "endpoint": "http://push.example/x"}))
    assert bad[0] == 400 and bad[1]["field"] == "endpoint"
    page.reload()
    page.get_by_label("市からのお知らせ").uncheck()
    page.get_by_role("button", name="分類の設定を保存する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"))
    assert not page.get_by_label("市からのお知らせ").is_checked()
    page.get_by_label("メールアドレス", exact=True).fill("taro@example.jp")
    page.get_by_role("button", name="確認のメールを送る").click()
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"))
    page.locator("#push-status[data-registered=true]").wait_for(state="attached", timeout=10000)
    panel = page.locator("section[aria-labelledby=notices-heading]")
    assert "確認待ち" in panel.inner_text() and "登録を解除する" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot(page, "notices-account-settings")
    panel.screenshot(path=str(screenshot(page, "notices-account-settings").with_name("notices-account-panel.png")))
    assert axe_violations(page) == []
    page.get_by_role("button", name="この端末の登録を解除する").click()
    page.wait_for_url(re.compile(rf"/{CODE}/account/$"))
    assert "登録されている端末はありません。" in page.locator("main").inner_text()
    page.get_by_label("メールアドレス", exact=True).fill("not-an-address")
    page.get_by_role("button", name="確認のメールを送る").click()
    assert "メールアドレスの形式が正しくありません。" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    # The two refusals above (400) are the only console errors: no CSP violation, no script error.
    assert [e for e in errors if "status of 400" not in e] == [] and len(errors) == 2
    context.close()


def test_broadcast_pages_for_staff(server, browser):
    from tests.server import totp_code

    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill("demo-admin")
    page.get_by_label("パスワード").fill("madoguchi-demo-password")
    page.get_by_label("確認コード（6桁）").fill(totp_code(server.totp_secrets["demo-admin"]))
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(re.compile(rf"/{CODE}/staff/$"))
    page.get_by_role("link", name="お知らせ配信").click()
    assert axe_violations(page) == []
    # A mistake first: the summary names the field and links to it.
    page.get_by_label("配信先", exact=True).select_option("age")
    page.get_by_role("button", name="下書きを作る").click()
    summary = page.locator("#form-errors")
    assert "本文（日本語・お知らせのページで読まれます）: 本文を入力してください。" in summary.inner_text()
    assert axe_violations(page) == []
    page.get_by_label(re.compile("^表題（日本語")).fill("本町一丁目で断水の予定があります")
    page.get_by_label(re.compile("^本文（日本語")).fill("12月10日 9時〜12時、本町一丁目で断水します。")
    page.get_by_label(re.compile("^表題（英語")).fill("Water outage in Honcho 1-chome")
    page.get_by_label("分類", exact=True).select_option("announcements")
    page.get_by_label("配信先", exact=True).select_option("district")
    page.get_by_label(re.compile("^町丁目")).fill("東京都窓口市本町一丁目")
    page.get_by_role("button", name="下書きを作る").click()
    page.get_by_role("heading", name="本町一丁目で断水の予定があります").wait_for()
    main = page.locator("main").inner_text()
    assert "[市からのお知らせ] 本町一丁目で断水の予定があります" in main and "届く人数（今の時点）" in main
    screenshot(page, "notices-broadcast-draft")
    assert axe_violations(page) == []
    page.get_by_role("button", name="自分にテスト送信する").click()  # the demo admin has no e-mail address
    assert "メールアドレスが登録されていません" in page.get_by_role("alert").first.inner_text()
    page.get_by_role("button", name="今すぐ配信する").click()
    page.get_by_role("heading", name="配信の状況").wait_for()
    assert "お知らせのページには届いています" in page.locator("main").inner_text()
    screenshot(page, "notices-broadcast-sent")
    assert axe_violations(page) == []
    # Quiet hours, from the broadcasts page: a wrong time is named, then saved.
    page.get_by_role("link", name="お知らせ配信", exact=True).first.click()
    page.get_by_role("link", name=re.compile("^夜間の一時停止")).click()
    page.get_by_label(re.compile("夜間は端末への通知を止める")).check()
    page.get_by_label(re.compile("^止める時刻")).fill("21:00")
    page.get_by_role("button", name="保存する").click()
    assert "再開する時刻（日本時間、例: 08:00）: 再開する時刻を入力してください。" in page.locator("#form-errors").inner_text()
    assert axe_violations(page) == []
    page.get_by_label(re.compile("^再開する時刻")).fill("07:30")
    page.get_by_role("button", name="保存する").click()
    assert "毎日 21:00〜07:30（日本時間）" in page.locator("main").inner_text()
    screenshot(page, "notices-quiet-hours")
    assert axe_violations(page) == []
    context.close()
