"""Browser tests: Debian's chromium driven by Playwright against a real server process.

Playwright's own browser download is never used: chromium comes from apt-get
(scripts/apt-packages.txt) and is started through `executable_path`.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.server import fresh_database_url, start

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("MADOGUCHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, drop = fresh_database_url("browser")
    srv = start(tmp_path_factory.mktemp("server"), url)
    yield srv
    srv.stop()
    drop()


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/install-system-packages installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    _clicks_wait_for_the_page_they_open()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.console_errors = errors
    yield page
    context.close()


# A click on a link or a submit button returns as soon as the click is dispatched; the next
# line of a test then read the page being left, or an empty document mid-navigation (CI saw
# `content() == ''` and axe-core finding no documentElement). So a click that starts a
# navigation waits for the new document to load. The page itself says whether it does: a
# probe listening last on `window` sees the click on a link or the form's submit event and
# whether a script prevented it (pages that answer by fetch() stay where they are).
_NAVIGATION_PROBE = """() => {
  if (window.__madoguchiProbe) { window.__madoguchiProbe.navigating = false; return; }
  const probe = window.__madoguchiProbe = {navigating: false};
  const elsewhere = (target) => target && target !== '_self';
  window.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    const link = event.target.closest && event.target.closest('a[href]');
    if (!link || elsewhere(link.target) || link.hasAttribute('download')) return;
    const url = new URL(link.href, location.href);
    const here = new URL(location.href);
    if (url.hash && url.pathname === here.pathname && url.search === here.search) return;
    probe.navigating = true;
  });
  window.addEventListener('submit', (event) => {
    if (!event.defaultPrevented && !elsewhere(event.target.target)) probe.navigating = true;
  });
}"""
_NAVIGATION_STATE = """() => !window.__madoguchiProbe ? 'new' :
  (window.__madoguchiProbe.navigating ? 'leaving' : 'staying')"""


def _clicks_wait_for_the_page_they_open():
    from playwright.sync_api import Error, Locator

    if getattr(Locator.click, "waits_for_navigation", False):
        return
    click = Locator.click

    def _state(page):
        try:
            return page.evaluate(_NAVIGATION_STATE)
        except Error:  # the old document is gone and the new one not yet ready
            return "leaving"

    def click_and_wait(self, *args, **kwargs):
        page = self.page
        try:
            page.evaluate(_NAVIGATION_PROBE)
        except Error:
            pass  # already navigating: the state below will say
        downloads = []

        def downloaded(download):
            downloads.append(download)

        page.on("download", downloaded)
        try:
            click(self, *args, **kwargs)
            deadline = time.monotonic() + 30
            state = _state(page)
            while state == "leaving" and not downloads and time.monotonic() < deadline:
                page.wait_for_timeout(25)
                state = _state(page)
            if state == "new":
                page.wait_for_load_state("load")
        finally:
            if not page.is_closed():
                page.remove_listener("download", downloaded)

    click_and_wait.waits_for_navigation = True
    Locator.click = click_and_wait


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page) -> list[dict]:
    """axe-core injected through the DevTools protocol, so the page keeps its CSP."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `npm ci` installs it (scripts/test does)")
    from playwright.sync_api import Error

    for attempt in range(3):
        page.wait_for_load_state("load")
        try:
            page.evaluate(AXE.read_text(encoding="utf-8"))
            result = page.evaluate(
                """async () => await axe.run(document, {runOnly: {type: 'tag',
                    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"""
            )
            break
        except Error:  # a navigation replaced the document under axe: check the new one
            if attempt == 2:
                raise
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]]


def axe_collector():
    """`check(page, name)` runs axe-core on the page and keeps what it finds under `name` in
    `violations` (a dict the test asserts empty at its end, so every page is reported)."""
    violations = {}

    def check(page, name):
        found = axe_violations(page)
        if found:
            violations[name] = found

    return check, violations
