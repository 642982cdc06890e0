"""A write never stalls catalog search (issue 11, D9), and API scripts still read their writes.

After a change the catalog's in-memory search index is rebuilt by one background thread
while requests keep the previous index; JSON/API requests and `?fresh=1` see the change at
once through the SQL search path. Here the rebuild is held back on purpose, to show that
nothing waits for it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import authorize
from featreg.web import create_app
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.catalog.search import FeatureSearchIndex, IndexedFeature


def _register(web: FlaskClient, *names: str) -> None:
    entries: list[dict[str, Any]] = [{"kind": "teams", "fields": {
        "name": "growth", "contact": "growth@example.com"}}]
    entries += [{"kind": "features", "fields": {
        "name": name, "owner": "growth", "dtype": "int",
        "description": f"The {name} feature."}} for name in names]
    response = web.post("/api/v1/register", json={"entries": entries})
    assert response.status_code < 300, response.get_data(as_text=True)


def _names(web: FlaskClient, path: str) -> list[str]:
    response = web.get(path)
    assert response.status_code == 200
    return [item["name"] for item in response.get_json()["items"]]


def test_a_write_never_makes_search_wait_and_api_reads_see_it(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    web = authorize(app.test_client(), db_url)
    _register(web, "user_clicks_7d", "user_views_7d")
    assert _names(web, "/features?q=clicks&format=json&fresh=0") == ["user_clicks_7d"]

    release = threading.Event()
    builds: list[str] = []
    real_update = FeatureSearchIndex.updated

    def slow_update(index: FeatureSearchIndex, session: Any, since: int) -> FeatureSearchIndex:
        builds.append(threading.current_thread().name)
        assert release.wait(30)
        return real_update(index, session, since)

    monkeypatch.setattr(FeatureSearchIndex, "updated", slow_update)
    _register(web, "user_clicks_30d")  # a change set: the index is out of date

    start = time.perf_counter()
    for _ in range(20):  # pages keep the previous index: no request waits for the rebuild
        assert _names(web, "/features?q=clicks&format=json&fresh=0") == ["user_clicks_7d"]
        assert "user_clicks_7d" in web.get("/features?q=clicks").get_data(as_text=True)
    assert time.perf_counter() - start < 5
    assert len(builds) == 1 and builds[0] != threading.current_thread().name  # one, elsewhere

    # read-your-writes: the API (and ?fresh=1) answer from SQL while the index is behind
    assert _names(web, "/api/v1/features?q=clicks") == ["user_clicks_30d", "user_clicks_7d"]
    assert _names(web, "/features?q=clicks&format=json") == ["user_clicks_30d",
                                                             "user_clicks_7d"]
    assert "user_clicks_30d" in web.get("/features?q=clicks&fresh=1").get_data(as_text=True)

    release.set()  # the rebuilt index replaces the previous one
    deadline = time.monotonic() + 30
    while _names(web, "/features?q=clicks&format=json&fresh=0") != ["user_clicks_30d",
                                                                    "user_clicks_7d"]:
        assert time.monotonic() < deadline, "the index was never rebuilt"
        time.sleep(0.05)
    assert "user_clicks_30d" in web.get("/features?q=clicks").get_data(as_text=True)
    assert len(builds) == 1


def test_a_failed_rebuild_keeps_the_previous_index_and_is_retried(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    web = authorize(app.test_client(), db_url)
    _register(web, "user_clicks_7d")
    assert _names(web, "/features?q=clicks&format=json&fresh=0") == ["user_clicks_7d"]
    real_update = FeatureSearchIndex.updated
    failures = [1]

    def flaky_update(index: FeatureSearchIndex, session: Any, since: int) -> FeatureSearchIndex:
        if failures:
            failures.pop()
            raise RuntimeError("database went away")
        return real_update(index, session, since)

    monkeypatch.setattr(FeatureSearchIndex, "updated", flaky_update)
    _register(web, "user_clicks_30d")
    deadline = time.monotonic() + 30
    while len(_names(web, "/features?q=clicks&format=json&fresh=0")) != 2:
        assert time.monotonic() < deadline, "the index was never rebuilt after a failure"
        time.sleep(0.05)
    assert not failures


def _indexed(i: int, name: str, text: str, owner: str, tags: tuple[str, ...],
             findings: tuple[str, ...], day: int) -> IndexedFeature:
    return IndexedFeature(i, name, owner, "active" if i % 3 else "deprecated", "int",
                          datetime(2026, 1, day, tzinfo=UTC),
                          "\n".join([name, text, *tags]).lower(), name.lower(), text, None,
                          tags, findings)


feature_rows = st.tuples(st.text(alphabet="abAB_c", min_size=1, max_size=6),
                         st.text(alphabet="abc x", max_size=12), st.sampled_from(["t1", "t2"]),
                         st.lists(st.sampled_from(["x", "yy"]), max_size=2, unique=True),
                         st.sampled_from([(), ("legacy",)]), st.integers(1, 3))


@settings(max_examples=150, deadline=None)
@given(before=st.lists(feature_rows, max_size=25, unique_by=lambda r: r[0]),
       after=st.lists(feature_rows, max_size=25, unique_by=lambda r: r[0]),
       waves=st.integers(1, 3), query=st.sampled_from(["", "a", "ab", "b_", "x", "A c"]),
       sort=st.sampled_from(["name", "-name", "owner", "status", "created", "-created",
                             "relevance", "dtype"]),
       owner=st.sampled_from(["", "t1"]), tag=st.sampled_from(["", "x"]),
       finding=st.sampled_from(["", "any", "legacy"]))
def test_an_index_with_changes_laid_over_finds_what_one_built_anew_finds(
        before: list[tuple], after: list[tuple], waves: int, query: str, sort: str,
        owner: str, tag: str, finding: str) -> None:
    """Changes (added, changed, removed features, in one or more waves) laid over an index
    give the same totals and pages, in every order, as an index of the final features."""
    old = {r[0]: _indexed(i, r[0], r[1], r[2], tuple(r[3]), r[4], r[5])
           for i, r in enumerate(before)}
    new = {r[0]: _indexed(100 + i, r[0], r[1], r[2], tuple(r[3]), r[4], r[5])
           for i, r in enumerate(after)}
    index = FeatureSearchIndex(old.values())
    names = sorted(set(old) | set(new))
    for wave in range(waves):  # each wave applies a share of the changes
        part = names[wave::waves]
        index = index.with_changes({n: new.get(n) for n in part})
    fresh = FeatureSearchIndex(new.values())
    args = {"owner": owner, "tag": tag, "finding": finding, "sort": sort}
    got, want = index.find(query, **args), fresh.find(query, **args)
    assert got.total == want.total
    for start, stop in ((0, 3), (2, 7), (0, None)):
        assert [f.name for f in got.items(start, stop)] == [
            f.name for f in want.items(start, stop)]
    assert sorted(f.name for f in index.features) == sorted(new)
