"""Findings in a real browser (Chromium through Playwright, the live server and demo
organisation of tests/test_browser.py): bulk acknowledge from the list's table, a finding page
that reads as sentences and tables with its loop drawn, and the YAML of an unregistered reader
copied with one click. Screenshots go to artifacts/screenshots/."""

# ruff: noqa: F811 - the fixtures of test_browser are imported, then named as arguments
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from test_browser import TOKENS, browser, page, server, shot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _sign_in(page: object, server: str, then: str) -> None:
    page.goto(f"{server}/signin?next={quote(then, safe='/')}")  # type: ignore[attr-defined]
    page.locator("input[name=token]").fill(TOKENS["admin"])  # type: ignore[attr-defined]
    page.locator("form.signin button[type=submit]").click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(re.escape(then) + "$"))  # type: ignore[attr-defined]


def test_bulk_acknowledge_from_the_findings_table(server: str, page: object) -> None:
    _sign_in(page, server, "/findings")
    table = page.locator("table.findings-table")  # type: ignore[attr-defined]
    assert table.count() == 1, "many findings: the table is the default view"
    severities = table.locator("tbody td:nth-child(2)").all_inner_texts()
    rank = {"CRITICAL": 0, "WARNING": 1, "INFO": 2}
    assert severities == sorted(severities, key=lambda s: rank[s.strip().upper()])
    open_rows = table.locator("tbody tr", has=page.locator(".finding-status-open"))  # type: ignore[attr-defined]
    chosen = [open_rows.nth(i).get_attribute("id") for i in range(2)]
    for row_id in chosen:
        table.locator(f"#{row_id} input[name=ids]").check()
    shot(page, "20-findings-table-selected")
    form = page.locator("fieldset.bulk-actions")  # type: ignore[attr-defined]
    form.locator("input[name=reason]").fill("triaged in the weekly review")
    form.locator("button[value=acknowledge]").click()
    page.wait_for_load_state()  # type: ignore[attr-defined]
    for row_id in chosen:
        row = page.locator(f"table.findings-table #{row_id}")  # type: ignore[attr-defined]
        assert "acknowledged" in row.inner_text()
        assert "triaged in the weekly review" in (row.locator("[title]").last
                                                  .get_attribute("title") or "")
    shot(page, "21-findings-bulk-acknowledged")


def test_a_loop_finding_reads_as_sentences_and_draws_the_cycle(server: str,
                                                               page: object) -> None:
    page.goto(server + "/findings?kind=feedback_loop&view=cards")  # type: ignore[attr-defined]
    page.locator("li.finding a.badge").first.click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/findings/\d+$"))  # type: ignore[attr-defined]
    text = page.locator("main").inner_text()  # type: ignore[attr-defined]
    assert not re.search(r"\b(True|False|None)\b", text)
    assert not re.search(r"[\[{]\s*\"", text), "no raw JSON"
    assert not re.search(r"\d\.\d{5,}", text), "numbers are rounded"
    assert "feedback loop" in page.locator("p.explanation").inner_text()  # type: ignore[attr-defined]
    picture = page.locator(".finding-picture svg")  # type: ignore[attr-defined]
    assert picture.count() == 1 and picture.is_visible()
    assert picture.bounding_box()["width"] > 200  # type: ignore[index]
    assert page.locator(".finding-picture svg a").count() >= 3  # type: ignore[attr-defined]
    assert page.locator("table.evidence-table").count() >= 1  # type: ignore[attr-defined]
    shot(page, "22-finding-feedback-loop")


def test_a_correlated_finding_draws_its_cluster(server: str, page: object) -> None:
    page.goto(server + "/findings?kind=correlated&view=cards")  # type: ignore[attr-defined]
    if page.locator("li.finding a.badge").count() == 0:  # type: ignore[attr-defined]
        pytest.skip("the browser catalog has no snapshot, so no correlated finding (the "
                    "cluster picture is tested in test_findings_ui.py)")
    page.locator("li.finding a.badge").first.click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/findings/\d+$"))  # type: ignore[attr-defined]
    picture = page.locator(".finding-picture svg")  # type: ignore[attr-defined]
    assert picture.is_visible() and "keep" in picture.inner_text()
    shot(page, "23-finding-correlated")


def test_register_this_reader_yaml_is_copied(server: str, browser: object) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    tab.goto(server + "/findings?kind=undeclared_consumer&view=cards")
    reader = tab.locator("li.finding", has_text="not a registered consumer").first
    reader.locator(".finding-head a[href^='/consumers/']").first.click()
    tab.wait_for_url(re.compile(r"/consumers/"))
    box = tab.locator("pre#register-yaml")
    assert "consumers:" in box.inner_text() and "features:" in box.inner_text()
    assert tab.locator(".columns.meta").count() == 0, "no empty boxes"
    tab.locator("button[data-copy=register-yaml]").click()
    tab.wait_for_function("document.querySelector('button[data-copy=register-yaml]')"
                          ".textContent === 'Copied'")
    copied = tab.evaluate("navigator.clipboard.readText()")
    assert copied == box.inner_text()
    shot(tab, "24-register-this-reader")
    context.close()


@pytest.mark.parametrize("path", ["/findings", "/findings?view=cards",
                                  "/findings?kind=feedback_loop&view=cards",
                                  "/findings?kind=undeclared_consumer&view=cards"])
def test_findings_pages_fit_a_phone(server: str, browser: object, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    tab = context.new_page()
    widths = {}

    def measure() -> None:
        widths[tab.url] = tab.evaluate("document.querySelector('main').scrollWidth")

    tab.goto(server + path)
    measure()
    if "kind=" in path:  # and the first finding's page, and its subject's page
        tab.locator("li.finding a.badge").first.click()
        tab.wait_for_url(re.compile(r"/findings/\d+$"))
        measure()
        tab.locator("p.finding-head a").first.click()
        tab.wait_for_load_state()
        measure()
    assert all(w <= 390 for w in widths.values()), f"wider than 390 px: {widths}"
    shot(tab, "25-findings-390-" + re.sub(r"\W+", "-", path).strip("-"))
    context.close()


def test_a_deprecation_candidate_is_deprecated_with_one_click(server: str, page: object) -> None:
    _sign_in(page, server, "/findings?kind=legacy&view=cards")
    page.locator("li.finding .finding-head a[href^='/features/']").first.click()  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r"/features/"))  # type: ignore[attr-defined]
    command = page.locator("pre#deprecate-command").inner_text()  # type: ignore[attr-defined]
    assert command.startswith("featreg deprecate ") and "--sunset " in command
    shot(page, "26-deprecation-candidate")
    page.locator("form.deprecate button[type=submit]").click()  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    banner = page.locator(".banner-deprecated").inner_text()  # type: ignore[attr-defined]
    assert "This feature is deprecated" in banner and "Reason: legacy finding" in banner
    assert page.locator("pre#deprecate-command").count() == 0  # type: ignore[attr-defined]
