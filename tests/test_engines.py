"""The engine interface without Spark: Parquet usage logs and folders go through the local
engine and the one usage service, with the same rollups as JSON Lines ingest; the engine
setting and option are checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Cli
from sqlalchemy import select

from registry.core.settings import AnalysisSettings, SettingsError
from registry.engines import chosen_engine, get_engine, needs_an_engine
from registry.store import models as m
from registry.store.db import session_factory, session_scope

START = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)


def _events(n: int) -> list[dict[str, Any]]:
    return [{"ts": (START + timedelta(minutes=37 * k)).isoformat(),
             "consumer": f"model_{k % 3}", "features": [f"f{k % 5}", f"f{(k + 1) % 5}"],
             "count": 1 + k % 4} for k in range(n)]


def _stored(url: str) -> list[tuple[Any, ...]]:
    U = m.UsageDaily
    with session_scope(session_factory(url)) as session:
        return [tuple(row) for row in session.execute(
            select(U.day, U.feature, U.principal, U.reads, U.first_read, U.last_read)
            .order_by(U.day, U.feature, U.principal))]


def _parquet(path: Path, events: list[dict[str, Any]]) -> None:
    rows = [{**e, "ts": datetime.fromisoformat(e["ts"])} for e in events]
    schema = pa.schema([("ts", pa.timestamp("us", tz="UTC")), ("consumer", pa.string()),
                        ("features", pa.list_(pa.string())), ("count", pa.int64())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def test_parquet_logs_through_the_local_engine_store_the_same_rollups_as_json_lines(
        cli: Any, db_url: str, sqlite_url: str, tmp_path: Path) -> None:
    events = _events(400)
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_text("".join(json.dumps(e) + "\n" for e in events) + "{broken\n")
    other = Cli(sqlite_url)
    assert other("usage", "ingest", str(jsonl)).exit_code == 0
    folder = tmp_path / "logs"
    folder.mkdir()
    _parquet(folder / "part-0.parquet", events[:150])
    _parquet(folder / "part-1.parquet", events[150:] + [{**events[0], "count": 0}])
    result = cli("usage", "ingest", str(folder), "--engine", "local")
    assert result.exit_code == 0, result.output
    assert "400 events taken, 1 rejected" in result.output
    assert _stored(db_url) == _stored(sqlite_url)
    rejected = cli("usage", "rejected", "--format", "json")
    assert "part-1.parquet: count must be a whole number" in rejected.output
    again = cli("usage", "ingest", str(folder))
    assert again.exit_code == 0 and "Nothing new" in again.output
    assert _stored(db_url) == _stored(sqlite_url)


def test_bad_usage_logs_are_refused_with_the_path(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = cli("usage", "ingest", str(tmp_path), "--engine", "local")
    assert result.exit_code == 1
    assert "no usage log files" in result.output and str(tmp_path) in result.output


def test_the_engine_comes_from_the_option_then_the_setting(monkeypatch: Any) -> None:
    monkeypatch.delenv("FEATREG_ENGINE", raising=False)
    assert chosen_engine(None) == "local"
    monkeypatch.setenv("FEATREG_ENGINE", "spark")
    assert chosen_engine(None) == "spark"
    assert chosen_engine("local") == "local"
    with pytest.raises(SettingsError, match="FEATREG_ENGINE"):
        AnalysisSettings.from_env({"FEATREG_ENGINE": "dask"})
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("dask")
    assert needs_an_engine("logs.parquet") and needs_an_engine("s3a://bucket/logs/")
    assert not needs_an_engine("usage.jsonl") and not needs_an_engine("-")
