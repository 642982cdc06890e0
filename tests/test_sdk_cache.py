"""The direct client answers repeated reads from memory until the catalog changes, in this
process or any other (issue 15: warm `get` and `list` in milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

import registry
from registry.core.errors import NotFound
from registry.sdk.client import Client
from registry.store.db import get_engine


@pytest.fixture
def stocked(client: Client) -> Client:
    client.register_team("growth")
    client.register_source("warehouse.clicks", kind="table", owner="growth")
    with client.batch():
        for i in range(30):
            client.register_feature(f"f{i:02d}", owner="growth", dtype="int",
                                    sources=["warehouse.clicks"], tags=["ads"])
    return client


@contextmanager
def statements(url: str) -> Iterator[list[str]]:
    """The SQL statements the engine of ``url`` runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_warm_get_and_list_run_one_query(db_url: str, stocked: Client) -> None:
    first = stocked.get("f07")
    listed = stocked.list(tag="ads")
    with statements(db_url) as seen:
        assert stocked.get("f07") == first
        assert stocked.list(tag="ads") == listed
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2
    assert len(listed) == 30


def test_a_change_from_another_client_is_seen_at_once(db_url: str, stocked: Client) -> None:
    assert stocked.get("f03")["description"] == ""
    assert len(stocked.list()) == 30
    other = registry.connect(db_url, actor="someone-else")
    other.register_feature("f03", owner="growth", dtype="int", description="now described",
                           sources=["warehouse.clicks"], tags=["ads"])
    other.register_feature("new_one", owner="growth", dtype="float")
    assert stocked.get("f03")["description"] == "now described"
    assert [f["name"] for f in stocked.list()][-1] == "new_one"
    other.deprecate("f04", sunset=date(2031, 1, 1))
    assert stocked.get("f04")["status"] == "deprecated"
    assert next(f for f in stocked.list() if f["name"] == "f04")["status"] == "deprecated"


def test_changing_what_was_returned_changes_nothing_held(stocked: Client) -> None:
    feature = stocked.get("f01")
    feature["tags"].append("mine")
    feature["owner"] = "nobody"
    listed = stocked.list()
    listed[0]["owner"] = "nobody"
    listed.clear()
    assert stocked.get("f01")["tags"] == ["ads"]
    assert stocked.get("f01")["owner"] == "growth"
    assert stocked.list()[0]["owner"] == "growth"


def test_an_unknown_name_is_still_not_found_after_it_was_asked(stocked: Client) -> None:
    for _ in range(2):
        with pytest.raises(NotFound):
            stocked.get("absent")
    stocked.register_feature("absent", owner="growth", dtype="int")
    assert stocked.get("absent")["name"] == "absent"
