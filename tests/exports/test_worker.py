"""End to end on real processes: a server (tests/server.py), the Tasks worker
(`madoguchi worker`) on the same database, and Debian's chromium. Staff request exports
in the back office; the page follows the worker's progress by htmx polling (no inline
script: CSP); the cp932 export of a name the encoding cannot hold fails with its report;
the UTF-8 export downloads. The worker also issued the receipts, signed: checked by pdfsig
against the data directory's development LGPKI root."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from madoguchi.pki import lgpki, pades
from tests.browser.conftest import ARTIFACTS, axe_violations, browser  # noqa: F401  (fixtures)
from tests.documents.independent import nss_database, pdfsig
from tests.server import fresh_database_url, start, stop_process, totp_code

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CODE = "139998"
TAKA = "東京都窓口市髙橋町一丁目1番"
YOSHI = "東京都窓口市𠮷野町二丁目2番"
COUNT = 40


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("server")
    url, drop = fresh_database_url("exports")
    server = start(data_dir, url)
    worker_log = open(data_dir / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "madoguchi", "worker"], env=server.env, cwd=ROOT,
                              stdout=worker_log, stderr=subprocess.STDOUT)
    seeded = subprocess.run([sys.executable, "-m", "tests.exports.seed", str(COUNT), TAKA, YOSHI], env=server.env,
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    server.seeded_staff = seed["staff"]  # a reviewer of 危機管理課, which owns 罹災証明書
    yield server, data_dir, seed["receipts"]
    stop_process(worker)
    server.stop()
    drop()


@pytest.fixture(scope="module")
def page(browser, system):  # noqa: F811
    """One signed-in staff page for the module: a TOTP code is accepted once, so a second
    sign-in within the same 30 seconds would be refused."""
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    sign_in(page, system[0])
    yield page
    context.close()


def sign_in(page, server):
    member = server.seeded_staff
    page.goto(f"{server.base_url}/{CODE}/staff/login/")
    page.get_by_label("ユーザー名").fill(member["username"])
    page.get_by_label("パスワード").fill(member["password"])
    page.get_by_label("確認コード（6桁）").fill(totp_code(member["totp"]))
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{server.base_url}/{CODE}/staff/")


def request_export(page, server, fmt_label):
    page.goto(f"{server.base_url}/{CODE}/staff/exports/")
    assert axe_violations(page) == []
    page.get_by_label("手続き").select_option("risai-shoumei")
    page.get_by_label("形式").select_option(label=fmt_label)
    page.get_by_role("button", name="出力を依頼する").click()
    page.wait_for_url(f"{server.base_url}/{CODE}/staff/exports/*/")


def test_exports_through_the_worker_with_progress_in_the_page(system, page, tmp_path):
    server, data_dir, receipts = system
    request_export(page, server, "CSV（Shift_JIS／cp932）")
    # Polled by htmx until the worker is done: the state changes without a reload.
    page.locator('[data-state="failed"]').wait_for(timeout=90_000)
    report = page.locator("#export-progress table").inner_text()
    assert receipts[1] in report and "被害場所" in report and "U+20BB7" in report
    assert receipts[0] not in report  # 髙 is in cp932
    assert axe_violations(page) == []
    request_export(page, server, "CSV（UTF-8・BOM付き）")
    page.locator('[data-state="done"]').wait_for(timeout=90_000)
    assert f"{COUNT} 件" in page.locator("#export-progress").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exports-done.png"), full_page=True)
    assert axe_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="ダウンロード").click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == receipts
    assert rows[1][6] == TAKA and rows[2][6] == YOSHI
    assert not page.console_errors, page.console_errors


def test_the_worker_issued_signed_receipts(system, page, tmp_path):
    server, data_dir, receipts = system
    page.goto(f"{server.base_url}/{CODE}/staff/documents/?receipt={receipts[1]}")
    link = page.get_by_role("link", name="受付票")
    for _ in range(60):  # the worker renders and signs them one by one
        if link.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    with page.expect_download() as info:
        link.click()
    pdf = Path(info.value.path())
    root = lgpki.DevLGPKI.open(data_dir, create=False)
    assert pades.verify_pdf(pdf.read_bytes(), [root.root]).ok
    report = pdfsig(pdf, nss_database(tmp_path / "nss", root.root_path))
    assert report.signature_valid and report.trusted, report.output
    (ARTIFACTS / "pdfsig-demo-receipt.txt").write_text(report.output)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert receipts[1] in text
