"""The Spark engine against the in-process engine, on generated data (a real local Spark).

One local Spark session (``local[2]``, few shuffle partitions, no UI) serves the whole module.
Usage logs must give exactly the same daily cells and rejected lines; snapshot statistics,
profiles and correlations the same values within 1e-9.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")

from registry.engines.usage_logs import aggregate_locally  # noqa: E402

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from registry.engines.spark_session import spark_session

    session = spark_session("local[2]", {
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.default.parallelism": "4", "spark.driver.memory": "1g"})
    yield session
    session.stop()


# -- usage logs -------------------------------------------------------------------------------

START = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
NAMES = ["user_clicks_7d", "ctr", "age", "spend_30d", "country"]
PRINCIPALS = ["ctr_model", "ranker", "notebook-ana", "batch_job"]


def _events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    events = []
    for _ in range(n):
        ts = START + timedelta(seconds=rng.randrange(0, 4 * 86400))
        offset = rng.choice(["Z", "+00:00", "+02:00", "-05:30"])
        shifted = ts.astimezone(datetime.fromisoformat("2000-01-01T00:00" + (
            "+00:00" if offset == "Z" else offset)).tzinfo)
        text = shifted.isoformat().replace("+00:00", "Z") if offset == "Z" else shifted.isoformat()
        event: dict[str, Any] = {"ts": text, "consumer": rng.choice(PRINCIPALS)}
        if rng.random() < 0.5:
            event["feature"] = rng.choice(NAMES)
        else:
            event["features"] = rng.sample(NAMES, rng.randint(1, 3)) + (
                [NAMES[0]] if rng.random() < 0.1 else [])
        if rng.random() < 0.7:
            event["count"] = rng.randint(1, 50)
        events.append(event)
    return events


BAD_LINES = [
    "{not json", '{"ts": "2026-11-01T10:00:00", "consumer": "x", "feature": "a"}',
    '{"ts": "2026-11-01T10:00:00Z", "consumer": "x", "feature": "a", "count": 0}',
    '{"ts": "2026-11-01T10:00:00Z", "consumer": "x", "feature": "a", "features": ["b"]}',
    '{"ts": "2026-11-01T10:00:00Z", "feature": "a"}', "[1, 2]", "",
    '{"ts": "2026-11-01T10:00:00Z", "consumer": "bad name!", "feature": "a"}',
    '{"ts": "yesterday", "consumer": "x", "feature": "a"}', "\u00e9t\u00e9 \xff",
]


def _write_jsonl(path: Path, rng: random.Random, n: int) -> None:
    lines = [json.dumps(e) for e in _events(rng, n)]
    for bad in BAD_LINES:
        lines.insert(rng.randrange(len(lines)), bad)
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", errors="surrogateescape"))


def _same(local: Any, spark_result: Any) -> None:
    assert spark_result.cell_rows() == local.cell_rows()
    assert [(r.line_number, r.raw, r.reason) for r in spark_result.rejections] == \
        [(r.line_number, r.raw, r.reason) for r in local.rejections]
    assert (spark_result.stats.events, spark_result.stats.lines, spark_result.stats.rejected) \
        == (local.stats.events, local.stats.lines, local.stats.rejected)
    assert spark_result.fingerprint() == local.fingerprint()


def test_jsonl_usage_logs_give_the_same_rollups_and_rejections(spark: Any,
                                                               tmp_path: Path) -> None:
    from registry.engines.spark_usage import aggregate_on_spark

    rng = random.Random(7)
    folder = tmp_path / "logs"
    folder.mkdir()
    for day in range(3):
        _write_jsonl(folder / f"usage-{day}.jsonl", rng, 3000)
    local = aggregate_locally([folder])
    assert local.stats.rejected == 3 * 8  # a blank line is no event; odd names are names
    assert len(local.counts) > 100
    result = aggregate_on_spark(spark, [str(folder)])
    _same(local, result)
    assert any(r.reason.startswith("usage-1.jsonl: ") for r in result.rejections)


def test_one_big_jsonl_file_split_across_tasks_is_numbered_by_line(spark: Any,
                                                                    tmp_path: Path) -> None:
    from registry.engines.spark_usage import aggregate_on_spark

    path = tmp_path / "usage.jsonl"
    _write_jsonl(path, random.Random(11), 12_000)
    spark_result = aggregate_on_spark(spark, [str(path)])
    assert spark.sparkContext.textFile(str(path)).getNumPartitions() >= 2
    _same(aggregate_locally([path]), spark_result)


def test_parquet_usage_logs_give_the_same_rollups(spark: Any, tmp_path: Path) -> None:
    from registry.engines.spark_usage import aggregate_on_spark

    rng = random.Random(3)
    events = _events(rng, 5000)
    rows = []
    for e in events:
        ts = datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).astimezone(UTC)
        rows.append({"ts": ts, "consumer": e["consumer"], "feature": e.get("feature"),
                     "features": e.get("features"), "count": e.get("count")})
    rows[10]["count"] = -3
    rows[20]["consumer"] = None
    rows[30]["feature"], rows[30]["features"] = None, None
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("ts", pa.timestamp("us", tz="UTC")), ("consumer", pa.string()),
        ("feature", pa.string()), ("features", pa.list_(pa.string())), ("count", pa.int64())]))
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(table.slice(0, 2500), folder / "part-0.parquet", row_group_size=700)
    pq.write_table(table.slice(2500), folder / "part-1.parquet", row_group_size=700)
    local = aggregate_locally([folder])
    assert local.stats.rejected == 3
    _same(local, aggregate_on_spark(spark, [str(folder)]))


# -- snapshots --------------------------------------------------------------------------------

def _snapshot_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(50.0, 10.0, rows)
    with_gaps = base * 3.0 + rng.normal(0, 0.5, rows)
    with_gaps[rng.random(rows) < 0.15] = np.nan
    with_gaps[:3] = [np.inf, -np.inf, np.nan]
    ties = np.round(base / 5.0)  # few distinct values, many ties
    counts = pd.array(rng.integers(0, 1000, rows), dtype="Int64")
    counts[rng.random(rows) < 0.1] = pd.NA
    country = rng.choice(["de", "fr", "us", "br", "in"], rows, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    country_missing = pd.Series(country, dtype=object)
    country_missing[rng.random(rows) < 0.2] = None
    flag = rng.random(rows) < 0.3
    flag_missing = pd.Series(flag, dtype=object)
    flag_missing[rng.random(rows) < 0.1] = None
    return pd.DataFrame({
        "base": base, "copy_scaled": base * 1e6 + 7.0, "cubed": -(base ** 3),
        "with_gaps": with_gaps, "ties": ties, "ties_shifted": ties * 2 + 1,
        "counts": counts, "small_ints": rng.integers(0, 4, rows), "flag": flag,
        "flag_missing": flag_missing, "country": country, "country_missing": country_missing,
        "constant": np.full(rows, 4.5), "all_null": np.full(rows, np.nan),
        "noise": rng.normal(0, 1, rows), "label": rng.random(rows),
    })


def _close(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {set(a) ^ set(b)}"
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{where}: {a} != {b}"
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {a} != {b}"
    else:
        assert a == b and type(a) is type(b), f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshot") / "sample.parquet"
    pq.write_table(pa.Table.from_pandas(_snapshot_frame(1500, 5), preserve_index=False), path,
                   row_group_size=1000)
    return path


def test_snapshot_statistics_profiles_and_pairs_match_the_local_engine(
        spark: Any, snapshot_file: Path) -> None:
    from registry.engines import ProfileRequest
    from registry.engines.local import LocalEngine
    from registry.engines.spark import SparkEngine

    columns = LocalEngine().columns(str(snapshot_file))
    assert SparkEngine(session=spark).columns(str(snapshot_file)) == columns
    request = ProfileRequest(
        features=[c for c in columns if c != "label"],
        expects={"base": {"min": 30, "max": 70, "max_null_fraction": 0.0},
                 "small_ints": {"values": [0, 1, 2]}, "country": {"values": ["de", "fr"]},
                 "flag_missing": {"values": [True]}},
        tracked=[("base", "with_gaps"), ("ties", "noise"), ("country", "base")],
        threshold=0.5)
    local = LocalEngine().profile_snapshot(str(snapshot_file), request)
    remote = SparkEngine(session=spark).profile_snapshot(str(snapshot_file), request)
    assert remote.rows == local.rows == 1500
    assert list(remote.stats) == list(local.stats)
    for name, stats in local.stats.items():
        _close(stats.to_dict(), remote.stats[name].to_dict(), f"stats.{name}")
    _close(local.profiles, remote.profiles, "profiles")
    assert [(p.a, p.b, p.n) for p in remote.pairs] == [(p.a, p.b, p.n) for p in local.pairs]
    for mine, theirs in zip(remote.pairs, local.pairs, strict=True):
        _close(theirs.pearson, mine.pearson, f"{mine.a}-{mine.b} pearson")
        _close(theirs.spearman, mine.spearman, f"{mine.a}-{mine.b} spearman")
    assert {("base", "copy_scaled"), ("ties", "ties_shifted"), ("base", "with_gaps")} <= \
        {(p.a, p.b) for p in local.pairs}


def test_pearson_alone_matches_the_local_engine(spark: Any, snapshot_file: Path) -> None:
    """Pearson alone runs over the wide frame (no explode); "both" is checked above."""
    from registry.engines.local import LocalEngine
    from registry.engines.spark import SparkEngine

    for method in ("pearson",):
        local = LocalEngine().correlate(str(snapshot_file), 0.0, method)
        remote = SparkEngine(session=spark).correlate(str(snapshot_file), 0.0, method)
        assert [(p.a, p.b, p.n) for p in remote] == [(p.a, p.b, p.n) for p in local]
        for mine, theirs in zip(remote, local, strict=True):
            _close(theirs.to_dict(), mine.to_dict(), f"{method} {mine.a}-{mine.b}")


# -- through the command line and the one service ---------------------------------------------

CATALOG = """
teams:
  - {name: data, contact: data@example.com}
features:
  - {name: base, owner: data, dtype: float, description: x, expect: {min: 30, max: 70}}
  - {name: copy_scaled, owner: data, dtype: float, description: x}
  - {name: with_gaps, owner: data, dtype: float, description: x}
  - {name: ties, owner: data, dtype: float, description: x}
  - {name: country, owner: data, dtype: category, description: x, expect: {values: [de, fr]}}
  - {name: flag_missing, owner: data, dtype: bool, description: x}
"""


def _stored_snapshot(url: str, snapshot_id: int) -> tuple[Any, Any]:
    from sqlalchemy import select

    from registry.evidence.snapshots import snapshot_correlations
    from registry.store import models as m
    from registry.store.db import session_factory, session_scope

    with session_scope(session_factory(url)) as session:
        rows = session.scalars(select(m.SnapshotFeatureStats).where(
            m.SnapshotFeatureStats.snapshot_id == snapshot_id)
            .order_by(m.SnapshotFeatureStats.feature)).all()
        stored = {r.feature: {"stats": r.stats, "profile": r.profile} for r in rows}
        pairs = [(p.a, p.b, p.pearson, p.spearman, p.n)
                 for p in snapshot_correlations(session, snapshot_id)]
    return stored, pairs


def test_cli_spark_engine_stores_what_the_local_engine_stores(
        spark: Any, snapshot_file: Path, sqlite_template: Path, tmp_path: Path) -> None:
    import shutil

    from conftest import Cli

    urls = []
    for name in ("local", "spark"):
        shutil.copy(sqlite_template, tmp_path / f"{name}.db")
        urls.append(f"sqlite:///{tmp_path / name}.db")
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    logs = tmp_path / "usage.jsonl"
    _write_jsonl(logs, random.Random(5), 2000)
    local, remote = Cli(urls[0]), Cli(urls[1])
    for cli in (local, remote):
        assert cli("apply", str(tmp_path / "catalog.yaml")).exit_code == 0
        first = cli("snapshot", "add", str(snapshot_file), "--taken-at", "2026-11-01T00:00:00Z")
        assert first.exit_code == 0, first.output
    assert local("usage", "ingest", str(logs)).exit_code == 0
    result = remote("usage", "ingest", str(logs), "--engine", "spark")
    assert result.exit_code == 0, result.output
    assert "events taken, 8 rejected" in result.output
    later = ("snapshot", "add", str(snapshot_file), "--taken-at", "2026-11-02T00:00:00Z")
    assert local(*later).exit_code == 0
    result = remote(*later, "--engine", "spark")
    assert result.exit_code == 0, result.output
    again = remote(*later, "--engine", "spark")
    assert "Already registered as snapshot 2" in again.output
    with_local, with_spark = _stored_snapshot(urls[0], 2), _stored_snapshot(urls[1], 2)
    _close(with_local[0], with_spark[0], "snapshot 2")
    assert "tracked" in with_spark[0]["base"]["profile"]
    assert [p[:2] + p[4:] for p in with_spark[1]] == [p[:2] + p[4:] for p in with_local[1]]
    _close([p[2:4] for p in with_local[1]], [p[2:4] for p in with_spark[1]], "pairs")
    from test_engines import _stored

    assert _stored(urls[1]) == _stored(urls[0])
    rejected = [remote("usage", "rejected", "--format", "json").output,
                local("usage", "rejected", "--format", "json").output]
    assert [[{k: v for k, v in r.items() if k not in ("ingest_id", "ingested_at", "source")}
             for r in json.loads(text)] for text in rejected] == [
        [{k: v for k, v in r.items() if k not in ("ingest_id", "ingested_at", "source")}
         for r in json.loads(rejected[1])]] * 2
