"""The UI in a real browser: Debian's Chromium driven by Playwright against a live waitress
server on a free port, loaded with the seeds/ demo organisation (or the fixture catalog when
seeds/ is absent). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import admin_token
from featreg.web import create_app
from web_catalog import XSS_PRINCIPAL, build_catalog, load_seeds

from registry.demo import DemoManifest
from registry.store.db import dispose_engine

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a live server (waitress in a thread) on a loaded catalog."""
    from waitress import create_server

    folder = tmp_path_factory.mktemp("browser")
    shutil.copy(sqlite_template, folder / "featreg.db")
    url = f"sqlite:///{folder / 'featreg.db'}"
    seeds = ROOT / "seeds"
    if (seeds / "demo.json").is_file():
        load_seeds(url, seeds, DemoManifest.read(seeds).analysis_time)
    else:
        build_catalog(url, folder)
    TOKENS["admin"] = admin_token(url, "browser")
    app = create_app({"DATABASE_URL": url})
    live = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live.effective_port}"
    live.close()
    thread.join(timeout=5)
    dispose_engine(url)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    yield tab
    assert dialogs == [], f"a script ran: {dialogs}"
    context.close()


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_search_open_feature_follow_graph_node(server: str, page: object) -> None:
    page.goto(server + "/")
    shot(page, "01-home")
    page.fill("header input[name=q]", "clicks")
    page.press("header input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/features\?q=clicks"))
    links = page.locator("a.feature-link")
    assert links.count() > 0
    assert "clicks" in links.first.inner_text()
    shot(page, "02-search")
    name = links.first.inner_text()
    links.first.click()
    page.wait_for_url(re.compile(r"/features/" + re.escape(name) + "$"))
    assert page.locator("main > h1").inner_text().startswith(name)
    assert page.locator(".graph-box svg").count() == 1
    shot(page, "03-feature")
    node = page.locator(".graph-box svg a[*|href^='/sources/']").first
    href = node.get_attribute("xlink:href") or node.get_attribute("href")
    assert href
    node.click()
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    assert "source" in page.locator(".crumbs").inner_text()
    shot(page, "04-graph-node-source")


def test_sign_in_then_acknowledge_a_finding(server: str, page: object) -> None:
    page.goto(server + "/findings?kind=undocumented")
    page.locator("header .who a", has_text="Sign in").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.locator("input[name=token]").fill(TOKENS["admin"])
    page.locator("form.signin button[type=submit]").click()
    page.wait_for_url(re.compile(r"/findings\?kind=undocumented"))
    assert "Sign out" in page.locator("header .who").inner_text()
    item = page.locator("li.finding", has=page.locator(".finding-status-open")).first
    summary = item.locator("p.summary").inner_text()
    item.locator("input[name=reason]").fill("known, owner is on it")
    item.locator("button[value=acknowledge]").click()
    page.wait_for_load_state()
    acknowledged = page.locator("li.finding", has_text=summary).first
    assert "acknowledged" in acknowledged.locator(".finding-head").inner_text()
    assert "known, owner is on it" in acknowledged.inner_text()
    shot(page, "05-finding-acknowledged")


def test_open_a_report(server: str, page: object) -> None:
    page.goto(server + "/reports")
    reports = page.locator("table a[href^='/reports/']")
    if reports.count() == 0:
        pytest.skip("no weekly report was generated (the report service is not available)")
    shot(page, "06-reports")
    reports.first.click()
    page.wait_for_url(re.compile(r"/reports/\d+$"))
    assert "Weekly report" in page.locator("main > h1").inner_text()
    assert page.locator("article.report-body").count() == 1
    shot(page, "07-report")


def test_hostile_content_never_runs(server: str, page: object) -> None:
    from urllib.parse import quote

    page.goto(server + "/features/xss_probe")
    if page.locator("main > h1").inner_text().startswith("404"):
        page.goto(server + "/features/user_clicks_7d")
    assert page.locator("article.docs strong").count() >= 1  # Markdown rendered
    assert page.locator("article.docs script, article.docs img").count() == 0
    assert page.get_by_text(XSS_PRINCIPAL).count() >= 1  # shown as text
    page.goto(server + "/consumers/" + quote(XSS_PRINCIPAL, safe=""))
    page.goto(server + "/graph")
    shot(page, "08-graph-explorer")
    # the `page` fixture asserts that no alert() dialog was ever opened


def test_graph_explorer_show_more(server: str, page: object) -> None:
    page.goto(server + "/graph?limit=10")
    more = page.get_by_role("link", name="Show more")
    assert more.count() == 1
    more.click()
    page.wait_for_url(re.compile(r"limit=20"))
    assert page.locator(".graph-box svg g.node").count() > 10
