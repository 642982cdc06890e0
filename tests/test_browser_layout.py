"""Every page in a real browser at a phone's width (390 px) and a desktop's (1440 px): no page
scrolls sideways, and the graph explorer's default view holds every undeclared read and
feedback loop of the catalog, with labels legible and pan, zoom and focus working.

Debian's Chromium driven by Playwright against the live server of tests/test_browser.py (the
seeds/ demo organisation). A full-page screenshot of each page at each width is saved under
$FEATREG_SCREENSHOT_DIR when set (CI keeps that folder as the run's artefact), else under the
test run's temporary folder; each file is named <width>-<page>.png (the whole page, or its
first screen when it is longer than MAX_SHOT_HEIGHT).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.request import urlopen

import pytest
from test_browser import browser, server  # noqa: F401  (the shared server and browser)

pytestmark = pytest.mark.browser
WIDTHS = (390, 1440)
MAX_SHOT_HEIGHT = 6000  # px; a longer page (the API reference) is shot one screen high


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("FEATREG_SCREENSHOT_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def api(server: str, path: str) -> Any:  # noqa: F811
    with urlopen(server + "/api/v1" + path, timeout=30) as answer:  # noqa: S310 (local server)
        return json.load(answer)


def _first(items: list[dict[str, Any]], key: str = "name", **where: Any) -> str | None:
    for item in items:
        if all(item.get(k) == v for k, v in where.items()):
            return str(item[key])
    return None


@pytest.fixture(scope="module")
def pages(server: str) -> list[str]:  # noqa: F811
    """Every kind of page of the demo, with real objects."""
    feature = _first(api(server, "/features?per_page=5")["items"])
    source = _first(api(server, "/sources?per_page=5")["items"])
    consumer = _first(api(server, "/consumers?per_page=5")["items"])
    reader = _first(api(server, "/principals?registered=no&per_page=50")["items"],
                    registered=False)
    team = _first(api(server, "/teams"))
    finding = _first(api(server, "/findings?per_page=1")["items"], key="id")
    loop = _first(api(server, "/findings?kind=feedback_loop&per_page=1")["items"], key="id")
    report = _first(api(server, "/reports")["items"], key="id")
    paths = ["/", "/features", "/features?q=clicks", "/sources", "/consumers", "/principals",
             "/teams", "/findings", "/reports", "/jobs", "/data-health", "/history",
             "/search?q=model", "/graph", "/api/docs", "/signin"]
    paths += [f"/features/{quote(feature)}", f"/lineage/{quote(feature)}",
              f"/graph?focus={quote('feature:' + feature)}"] if feature else []
    paths += [f"/sources/{quote(source)}", f"/impact/{quote(source)}"] if source else []
    paths += [f"/consumers/{quote(consumer)}", f"/closure/{quote(consumer)}"] if consumer else []
    paths += [f"/consumers/{quote(reader, safe='')}"] if reader else []
    paths += [f"/teams/{quote(team)}", f"/graph?team={quote(team)}"] if team else []
    paths += [f"/findings/{id_}" for id_ in (finding, loop) if id_]
    paths += [f"/reports/{report}"] if report else []
    return paths


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:  # noqa: F811
    contexts = {width: browser.new_context(viewport={"width": width, "height": 900})
                for width in WIDTHS}
    yield {width: context.new_page() for width, context in contexts.items()}
    for context in contexts.values():
        context.close()


def _name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "home"


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(server: str, tab: dict[int, Any], pages: list[str],  # noqa: F811
                                  shots: Path, width: int) -> None:
    page = tab[width]
    wide: dict[str, int] = {}
    for path in pages:
        answer = page.goto(server + path)
        assert answer is not None and answer.status == 200, path
        tall = page.evaluate("document.documentElement.scrollHeight") > MAX_SHOT_HEIGHT
        page.screenshot(path=str(shots / f"{width}-{_name(path)}.png"), full_page=not tall)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > page.evaluate("window.innerWidth"):
            wide[path] = scroll
    assert wide == {}, f"pages wider than {width} px"


def _drawn_edges(page: Any, kind: str) -> set[str]:
    """The edges of a kind in the drawing, as "from → to" (from each edge's tooltip)."""
    titles = page.eval_on_selector_all(
        f".graph-box svg g.edge.{kind} a",
        "links => links.map(a => a.getAttribute('xlink:title') || a.getAttribute('title'))")
    return {title.split(": ", 1)[1] for title in titles if title}


def _edges(graph: dict[str, Any], test: Any) -> set[str]:
    return {f"{e['from']} → {e['to']}" for e in graph["edges"] if test(e)}


def test_default_graph_draws_every_undeclared_read_and_loop(server: str,  # noqa: F811
                                                            tab: dict[int, Any]) -> None:
    everything = api(server, "/graph?limit=100000")
    default = api(server, "/graph")
    undeclared = _edges(everything, lambda e: e["kind"] == "undeclared")
    loops = _edges(everything, lambda e: e["loop"])
    assert undeclared and loops, "the demo has undeclared reads and feedback loops"
    assert default["truncated"], "the demo is larger than the default node limit"
    page = tab[1440]
    page.goto(server + "/graph")
    assert _drawn_edges(page, "undeclared") == undeclared
    assert _drawn_edges(page, "loop") == loops
    readers = {e.split(" → ")[1] for e in undeclared}
    drawn = set(page.eval_on_selector_all(
        ".graph-box svg g.node.consumer a",
        "links => links.map(a => (a.getAttribute('xlink:title') || '').split(' | ')[0])"))
    assert {f"consumer {r.split(':', 1)[1]}" for r in readers} <= drawn
    note = page.locator("p.graph-cut").inner_text()
    assert f"of {default['available']} nodes" in note and "Left out" in note


def test_graph_labels_are_legible_and_the_phone_sees_the_whole_graph(
        server: str, tab: dict[int, Any]) -> None:  # noqa: F811
    size = ("() => { const t = document.querySelector('.graph-box svg g.node text');"
            " return parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a; }")
    desktop = tab[1440]
    desktop.goto(server + "/graph")
    assert desktop.evaluate(size) >= 11 - 0.01
    phone = tab[390]
    phone.goto(server + "/graph")
    inside = phone.evaluate("""() => {
        const box = document.querySelector('.graph-box').getBoundingClientRect();
        const drawing = document.querySelector('.graph-box svg g.graph').getBoundingClientRect();
        return drawing.left >= box.left - 1 && drawing.right <= box.right + 1 &&
               drawing.top >= box.top - 1 && drawing.bottom <= box.bottom + 1; }""")
    assert inside, "the whole graph is fitted into the box on a phone"


def test_pan_zoom_and_focus_on_a_node(server: str, tab: dict[int, Any]) -> None:  # noqa: F811
    page = tab[1440]
    page.goto(server + "/graph")
    box = page.locator(".graph-box")
    zoom = float(box.get_attribute("data-zoom"))
    page.get_by_role("button", name="zoom in").click()
    assert float(box.get_attribute("data-zoom")) > zoom
    before = page.locator(".graph-box svg").get_attribute("viewBox")
    area = box.bounding_box()
    page.mouse.move(area["x"] + 300, area["y"] + 200)
    page.mouse.down()
    page.mouse.move(area["x"] + 420, area["y"] + 260, steps=6)
    page.mouse.up()
    assert page.locator(".graph-box svg").get_attribute("viewBox") != before
    assert page.url.endswith("/graph"), "a drag never follows a link"
    box.focus()
    page.keyboard.press("0")  # fit
    page.locator(".graph-box svg g.node.feature a").first.click()
    menu = page.locator(".pz-menu")
    assert menu.count() == 1
    name = menu.locator("b").inner_text().split(" ", 1)[1]
    menu.get_by_role("menuitem", name="Focus the graph here").click()
    page.wait_for_url(re.compile(r"/graph\?focus=feature"))
    assert name in page.locator("main > h1").inner_text()
    assert page.locator(".graph-box svg g.node.focus").count() == 1
