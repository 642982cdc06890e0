"""Search over every kind and the list pages in a real browser (Debian's Chromium through
Playwright, the live server of tests/test_browser.py on the demo organisation): the header's
search box finds each kind by name, and no new page scrolls sideways at 390 px. Screenshots
go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from test_browser import browser, server, shot  # noqa: F401 - fixtures shared with it

pytestmark = pytest.mark.browser
NARROW = {"width": 390, "height": 844}


def api(base: str, path: str) -> dict[str, object]:
    with urllib.request.urlopen(base + path) as response:  # noqa: S310 - the local server
        loaded: dict[str, object] = json.load(response)
    return loaded


def first(base: str, path: str, key: str = "name") -> str:
    items = api(base, path)["items"]
    assert isinstance(items, list) and items, f"{path} lists nothing"
    return str(items[0][key])


@pytest.fixture(scope="module")
def names(server: str) -> dict[str, tuple[str, str]]:  # noqa: F811
    """A name of each kind in the served catalog, with the path of its page."""
    feature = first(server, "/api/v1/features?sort=-reads_30d")
    source = first(server, "/api/v1/sources?sort=-features")
    consumer = first(server, "/api/v1/consumers")
    team = str(api(server, "/api/v1/teams")[0]["name"])  # type: ignore[index]
    readers = api(server, "/api/v1/principals?registered=no&per_page=100")["items"]
    reader = next(str(p["name"]) for p in readers  # type: ignore[attr-defined]
                  if "<" not in str(p["name"]))
    quoted = urllib.request.quote
    return {"feature": (feature, f"/features/{quoted(feature, safe='')}"),
            "source": (source, f"/sources/{quoted(source, safe='')}"),
            "consumer": (consumer, f"/consumers/{quoted(consumer, safe='/')}"),
            "team": (team, f"/teams/{quoted(team, safe='')}"),
            "principal": (reader, f"/consumers/{quoted(reader, safe='/')}")}


@pytest.fixture
def tab(browser: object) -> Iterator[object]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def narrow(browser: object) -> Iterator[object]:  # noqa: F811
    context = browser.new_context(viewport=NARROW)  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("kind", ["feature", "source", "consumer", "team", "principal"])
def test_the_search_box_finds_each_kind(server: str, tab: object,  # noqa: F811
                                        names: dict[str, tuple[str, str]], kind: str) -> None:
    name, path = names[kind]
    tab.goto(server + "/")  # type: ignore[attr-defined]
    tab.fill("header input[name=q]", name)  # type: ignore[attr-defined]
    tab.press("header input[name=q]", "Enter")  # type: ignore[attr-defined]
    tab.wait_for_load_state()  # type: ignore[attr-defined]
    hit = tab.locator(f"main a[href='{path}']").first  # type: ignore[attr-defined]
    assert hit.is_visible(), f"searching {name!r} shows no link to {path}"
    assert hit.inner_text().strip() == name
    shot(tab, f"search-{kind}")
    hit.click()
    tab.wait_for_url(re.compile(re.escape(server + path) + "$"))  # type: ignore[attr-defined]
    assert name in tab.locator("main h1").inner_text()  # type: ignore[attr-defined]


def test_the_search_page_groups_results_by_kind(server: str, tab: object,  # noqa: F811
                                                names: dict[str, tuple[str, str]]) -> None:
    source = names["source"][0]
    word = re.split(r"[._/-]", source)[-1]
    tab.goto(server + f"/search?q={urllib.request.quote(word)}")  # type: ignore[attr-defined]
    kinds = tab.locator("section.search-group").evaluate_all(  # type: ignore[attr-defined]
        "sections => sections.map(s => s.dataset.kind)")
    assert "source" in kinds and kinds == sorted(kinds, key=[
        "feature", "source", "consumer", "team", "principal"].index)
    shot(tab, "search-page")


def overflow(page: object) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("path", ["/sources", "/consumers", "/principals", "/history",
                                  "/search?q=a", "/features?sort=-reads_30d", "/jobs", "/",
                                  "/findings"])
def test_new_pages_do_not_overflow_at_390_px(server: str, narrow: object,  # noqa: F811
                                             path: str) -> None:
    narrow.goto(server + path)  # type: ignore[attr-defined]
    slug = re.sub(r"\W+", "-", path).strip("-") or "home"
    shot(narrow, f"390-{slug}")
    assert overflow(narrow) <= 0, f"{path} scrolls sideways at 390 px"


def test_team_page_does_not_overflow_at_390_px(server: str, narrow: object,  # noqa: F811
                                               names: dict[str, tuple[str, str]]) -> None:
    narrow.goto(server + names["team"][1])  # type: ignore[attr-defined]
    shot(narrow, "390-team")
    assert "Undeclared reads" in narrow.locator("main").inner_text()  # type: ignore[attr-defined]
    assert overflow(narrow) <= 0
