"""The SDK's HTTP transport: the same scenario through `registry.connect(database URL)` and
`registry.connect("http://...")` against a live server gives the same values and errors."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import admin_token, serving
from featreg.web import create_app

import registry
from registry.core.errors import FeatregError, InvalidInput, NotFound, Unauthenticated
from registry.sdk.client import Client
from registry.sdk.http import HttpClient
from registry.store.db import dispose_engine
from registry.wire import error_payload, plan_from_dict, plan_to_dict

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def server_url(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[str]:
    """A live Featreg server (werkzeug, in a thread) on its own fresh database; the HTTP SDK
    writes with an admin token of it (FEATREG_TOKEN)."""
    path = tmp_path / "server.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("FEATREG_TOKEN", admin_token(url, "sdk"))
    app = create_app({"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")})
    try:
        with serving(app) as base:
            yield base
    finally:
        dispose_engine(url)


def _outcome(call: Callable[[], Any]) -> Any:
    """The value of a call, or its error as a comparable value (type, message, problems)."""
    try:
        value = call()
    except FeatregError as exc:
        return ("error", type(exc).__name__, str(exc), getattr(exc, "problems", None))
    if hasattr(value, "changes"):  # a Plan: the changes are the value (desired stays server-side)
        return ("plan", value.changes)
    return value


def _snapshot_file(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    clicks = rng.poisson(5, 300).astype(float)
    frame = pd.DataFrame({"user_clicks_7d": clicks,
                          "user_clicks_30d": clicks * 4 + rng.normal(0, 0.1, 300),
                          "user_age": rng.integers(18, 80, 300),
                          "mystery": rng.normal(size=300)})
    frame["label"] = (clicks + rng.normal(0, 1, 300) > 5).astype(int)
    path = folder / "sample.csv"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def run_scenario(client: Client | HttpClient, folder: Path) -> list[Any]:
    """Everything a user does with the SDK, successes and mistakes, as comparable values."""
    out: list[Any] = []
    step = out.append
    step(_outcome(lambda: client.register_team("growth", contact="growth@example.com")))
    step(_outcome(lambda: client.register_team("ads", description="Ads <b>team</b>")))
    step(_outcome(lambda: client.register_source("warehouse.clicks", kind="table",
                                                 owner="growth", description="Raw clicks")))
    step(_outcome(lambda: client.register_feature(
        "user_clicks_7d", owner="growth", dtype="int", description="Clicks, **7 days**.",
        sources=["warehouse.clicks"], tags=["ads", "Clicks"], created=date(2025, 3, 1))))
    with client.bundle("ctr-launch"):
        client.register_feature("user_clicks_30d", owner="growth", dtype="float",
                                depends_on=["user_clicks_7d"], cost=1.5,
                                created=datetime(2025, 4, 1, 8, 30, tzinfo=UTC))
        client.register_feature("user_age", owner="ads", dtype="int", tags=["profile"],
                                created="2025-05-01")
    step(_outcome(lambda: client.register_consumer(
        "ctr_model", kind="model", owner="ads", features=["user_clicks_7d", "user_age"],
        version="3")))
    step(_outcome(lambda: client.register_source("ctr_model.scores", kind="model_output",
                                                 owner="ads", produced_by="ctr_model")))
    # redeclaring changes fields; the same declaration again changes nothing
    step(_outcome(lambda: client.register_feature(
        "user_age", owner="ads", dtype="float", tags=["profile", "pii"])))
    step(_outcome(lambda: client.register_feature(
        "user_age", owner="ads", dtype="float", tags=["profile", "pii"])))
    # mistakes: every problem comes back, nothing is applied
    step(_outcome(lambda: client.register_feature("bad name!", owner="nobody", dtype="blob")))
    step(_outcome(lambda: client.register_feature("orphan", owner="nobody", dtype="int",
                                                  sources=["nowhere"])))
    step(_outcome(lambda: client.register_consumer("job1", kind="model", owner="ads",
                                                   features=["ghost"])))

    def failing_batch() -> None:
        with client.batch():
            client.register_team("late", contact="late@example.com")
            client.register_feature("needs_late", owner="missing", dtype="int")

    step(_outcome(failing_batch))

    def nested() -> None:
        with client.batch(), client.batch():
            pass

    step(_outcome(nested))
    # lifecycle
    step(_outcome(lambda: client.deprecate("user_clicks_7d", sunset=date(2027, 1, 31),
                                           replacement="user_clicks_30d", reason="coarser")))
    step(_outcome(lambda: client.undeprecate("user_clicks_7d")))
    step(_outcome(lambda: client.retire("user_age", reason="privacy")))
    step(_outcome(lambda: client.deprecate("ghost", sunset=date(2027, 1, 1))))
    step(_outcome(lambda: client.deprecate("user_clicks_30d", sunset=date(2027, 1, 1),
                                           replacement="ghost")))
    # reading
    for name in ("user_clicks_7d", "user_clicks_30d", "warehouse.clicks", "ctr_model", "ads",
                 "ctr_model.scores", "nothing.here"):
        step(_outcome(lambda name=name: client.get(name)))
    step(_outcome(lambda: client.list()))
    step(_outcome(lambda: client.list(owner="growth", status="active")))
    step(_outcome(lambda: client.list(tag="pii")))
    step(_outcome(lambda: client.search("CLICKS")))
    step(_outcome(lambda: client.lineage("user_clicks_7d")))
    step(_outcome(lambda: client.lineage("ctr_model", upstream=True, depth=1)))
    step(_outcome(lambda: client.lineage("nope")))
    step(_outcome(lambda: client.impact("warehouse.clicks")))
    step(_outcome(lambda: client.impact("user_clicks_7d")))
    step(_outcome(lambda: client.closure("ctr_model")))
    step([{k: v for k, v in e.items() if k != "ts"} for e in client.history(limit=500)])
    step([{k: v for k, v in e.items() if k != "ts"} for e in client.history("user_age")])
    # evidence
    step(_outcome(lambda: client.log_usage("ctr_model", ["user_clicks_7d", "user_age"],
                                           count=3, ts=T0)))
    step(_outcome(lambda: client.log_usage("airflow.nightly", "user_clicks_30d",
                                           ts=T0 + timedelta(hours=2))))
    step(_outcome(lambda: client.log_usage("ctr_model", "user_age",
                                           ts=datetime(2026, 10, 1, 12))))  # naive
    step(_outcome(lambda: client.log_usage("ctr_model", [], ts=T0)))
    step(_outcome(lambda: client.log_usage("ctr_model", "user_age", count=0, ts=T0)))
    with client.usage_logger("serving", flush_interval=60) as logger:
        for _ in range(5):
            logger.log(["user_clicks_7d", "user_clicks_30d"])
        logger.log("user_age", count=4)
    step(logger.failed_flushes)
    usage = client.feature_usage(now=datetime.now(UTC) + timedelta(hours=1))
    assert all(isinstance(row["last_read"], datetime) for row in usage.values())
    step({name: {k: v for k, v in row.items() if k != "last_read"}  # the logger's: real time
          for name, row in usage.items()})
    step(_outcome(lambda: client.feature_usage("user_age", now=T0 + timedelta(days=1))))
    step(_outcome(lambda: client.report_importance(
        "ctr_model", {"user_clicks_7d": 0.7, "user_age": 0.05, "outside": 0.25},
        method="permutation", metric="auc", ts=T0)))
    step(_outcome(lambda: client.report_importance(
        "ctr_model", {"user_clicks_7d": 0.6, "user_age": 0.05}, method="permutation",
        metric="auc", ts=T0)))  # same key: replaces
    step(_outcome(lambda: client.report_importance("ghost_model", {"x": 1.0})))
    step(_outcome(lambda: client.report_importance("ctr_model", {"x": "many"}, ts=T0)))
    step(_outcome(lambda: client.report_importance("ctr_model", {"x": 1.0},
                                                   ts=datetime(2026, 1, 1))))  # naive
    step(_outcome(lambda: client.latest_importance()))
    step(_outcome(lambda: client.latest_importance("ctr_model")))
    sample = _snapshot_file(folder)
    for _ in range(2):  # the second upload of the same file is the same snapshot
        summary = client.add_snapshot(str(sample), label="label", consumer="ctr_model")
        assert isinstance(summary["created_at"], datetime)
        step({k: v for k, v in summary.items() if k not in ("path", "created_at", "taken_at")})
    step(_outcome(lambda: client.add_snapshot(str(sample), consumer="ghost_model")))
    computed = client.latest_importance("ctr_model")["ctr_model"]
    assert computed["source"] == "computed"
    step({k: v for k, v in computed.items() if k != "reported_at"})  # computed now
    return out


TOKEN_ACTOR = re.compile(r"^sdk-[0-9a-f]{8} \((?P<note>.*)\)$")


def _as_noted(value: Any) -> Any:
    """History seen over HTTP records the token's identity with the client's actor as a note
    (``sdk-1a2b3c4d (tester)``); the direct transport records the actor alone."""
    if isinstance(value, list):
        return [_as_noted(v) for v in value]
    if isinstance(value, dict) and isinstance(value.get("actor"), str):
        match = TOKEN_ACTOR.match(value["actor"])
        assert match is not None, value["actor"]
        return {**value, "actor": match.group("note")}
    return value


def test_http_transport_gives_the_same_values_and_errors_as_the_direct_one(
    sqlite_url: str, server_url: str, tmp_path: Path,
) -> None:
    direct = registry.connect(sqlite_url, actor="tester")
    remote = registry.connect(server_url, actor="tester")
    assert isinstance(direct, Client) and isinstance(remote, HttpClient)
    expected = run_scenario(direct, tmp_path / "direct")
    observed = [_as_noted(o) for o in run_scenario(remote, tmp_path / "remote")]
    assert len(observed) == len(expected)
    for position, (want, got) in enumerate(zip(expected, observed, strict=True)):
        assert got == want, f"step {position} differs"
    errors = [o for o in observed if isinstance(o, tuple) and o[0] == "error"]
    assert {e[1] for e in errors} == {"InvalidInput", "NotFound", "FeatregError"}
    assert any(e[3] and len(e[3]) >= 2 for e in errors), "a multi-problem error came through"


def test_http_errors_are_the_same_exception_types(server_url: str) -> None:
    remote = registry.connect(server_url, actor="tester")
    with pytest.raises(NotFound, match="no feature, source, consumer or team named 'x'"):
        remote.get("x")
    with pytest.raises(InvalidInput) as caught:
        remote.register_feature("f", owner="nobody", dtype="int", sources=["s"])
    assert [p.field for p in caught.value.problems] == ["owner", "sources"]
    assert all("refers to unknown" in p.message for p in caught.value.problems)


def test_unreachable_server_is_a_featreg_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(FeatregError, match="cannot reach Featreg"):
        client.get("anything")


def test_the_actor_of_http_writes_is_recorded(server_url: str, sqlite_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    remote = registry.connect(server_url, actor="carol")
    remote.register_team("t1", contact="t1@example.com")
    assert TOKEN_ACTOR.match(remote.history("t1")[0]["actor"])["note"] == "carol"  # type: ignore[index]
    monkeypatch.delenv("FEATREG_TOKEN")
    anonymous = registry.connect(server_url, actor="carol")
    with pytest.raises(Unauthenticated, match="needs a token"):
        anonymous.register_team("t2")
    with pytest.raises(NotFound):
        remote.get("t2")  # nothing was stored


def test_plan_and_error_wire_formats_round_trip(client: Client) -> None:
    plan = client.register_team("growth", contact="g@example.com")
    assert plan is not None
    assert plan_from_dict(plan_to_dict(plan)).changes == plan.changes
    with pytest.raises(InvalidInput) as caught:
        client.register_feature("f", owner="nobody", dtype="int")
    status, body = error_payload(caught.value)
    assert (status, body["type"]) == (400, "InvalidInput")
    assert [p["message"] for p in body["problems"]] == [p.message
                                                        for p in caught.value.problems]
