"""Snapshots: unknown columns, statistics and correlated pairs stored (against pandas),
computed importance for a labelled snapshot, the stand-alone correlate command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from registry.analysis.column_stats import compute_column_stats
from registry.analysis.computed_importance import is_noise
from registry.core.errors import InvalidInput
from registry.evidence import importance, snapshots
from registry.sdk.client import Client
from registry.store.db import session_factory, session_scope

DECLARED = ["s1", "s2", "c1", "n1", "n2", "k", "m", "segment"]


def _frame(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s1, s2 = rng.normal(size=rows), rng.normal(size=rows)
    m = 0.9 * s2 + 0.1 * rng.normal(size=rows)
    m[::17] = np.nan
    m[5] = np.inf
    frame = pd.DataFrame({
        "s1": s1,
        "s2": s2,
        "c1": s1 + 0.01 * rng.normal(size=rows),  # a near-copy of s1
        "n1": rng.normal(size=rows),
        "n2": rng.uniform(size=rows),
        "k": np.full(rows, 3.0),
        "m": m,
        "segment": rng.choice(["a", "b", "c"], size=rows),
        "extra": rng.normal(size=rows),
        "y": (s1 + s2 + 0.3 * rng.normal(size=rows) > 0).astype(int),
    })
    return frame


def _catalog(client: Client) -> None:
    with client.batch():
        client.register_team("ml", contact="ml@example.com")
        for name in DECLARED:
            dtype = "category" if name == "segment" else "float"
            client.register_feature(name, owner="ml", dtype=dtype, description="x")
        client.register_consumer("ranker", kind="model", owner="ml", features=DECLARED)


def _pandas_pairs(frame: pd.DataFrame, threshold: float) -> dict[tuple[str, str], tuple]:
    """Reference: pandas' pairwise-complete Pearson and Spearman (±inf as missing)."""
    numeric = frame.select_dtypes("number").replace([np.inf, -np.inf], np.nan)
    pearson, spearman = numeric.corr(), numeric.corr(method="spearman")
    columns = list(numeric.columns)
    pairs = {}
    for i, a in enumerate(columns):
        for b in columns[i + 1:]:
            p, s = pearson.loc[a, b], spearman.loc[a, b]
            if max((abs(v) for v in (p, s) if not np.isnan(v)), default=0.0) >= threshold:
                n = int(numeric[[a, b]].notna().all(axis=1).sum())
                pairs[(a, b)] = (p, s, n)
    return pairs


def _assert_same_pairs(got: dict[tuple[str, str], tuple], want: dict[tuple[str, str], tuple]
                       ) -> None:
    assert set(got) == set(want)
    for key, (p, s, n) in want.items():
        assert got[key][0] == pytest.approx(p, abs=1e-9)
        assert got[key][1] == pytest.approx(s, abs=1e-9)
        assert got[key][2] == n


@pytest.fixture
def labelled(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = _frame()
    path = tmp_path / "sample.parquet"
    frame.to_parquet(path)
    return path, frame


def test_snapshot_add_stores_stats_pairs_and_computed_importance(client, cli, db_url, labelled):
    _catalog(client)
    path, frame = labelled
    result = cli("snapshot", "add", str(path), "--label", "y", "--consumer", "ranker",
                 "--repeats", "4")
    assert result.exit_code == 0, result.output
    assert "600 rows, 8 features" in result.output
    assert "columns not in the catalog (ignored): extra" in result.output
    assert "computed importance for ranker" in result.output

    with session_scope(session_factory(db_url)) as session:
        (summary,) = snapshots.list_snapshots(session)
        stats = snapshots.snapshot_stats(session, summary.id)
        pairs = snapshots.snapshot_correlations(session, summary.id)
        report = importance.latest_reports(session, source="computed")["ranker"]
    assert summary.unknown_columns == ["extra"] and summary.label == "y"
    want_stats = {name: json.loads(json.dumps(s.to_dict()))
                  for name, s in compute_column_stats(frame[DECLARED]).items()}
    assert stats == want_stats
    assert stats["m"]["nulls"] == int(frame["m"].isna().sum())

    stored = {(p.a, p.b): (p.pearson, p.spearman, p.n) for p in pairs}
    _assert_same_pairs(stored, _pandas_pairs(frame[DECLARED], 0.8))
    assert ("s1", "c1") in stored and ("s2", "m") in stored

    assert (report.method, report.metric, report.snapshot_id) == (
        "permutation-computed", "roc_auc", summary.id)
    assert set(report.values) == set(DECLARED)
    assert report.details["unusable_features"] == ["k"] and report.values["k"].value == 0.0
    assert all(e.repeats == 4 and e.std is not None
               for name, e in report.values.items() if name != "k")

    def noise(value: float, std: float | None, repeats: int | None) -> bool:
        return is_noise(value, std or 0.0, repeats or 1, method=report.method)

    signal = report.values["s2"]
    assert not noise(signal.value, signal.std, signal.repeats)
    for name in ("n1", "n2"):
        e = report.values[name]
        assert noise(e.value, e.std, e.repeats) and e.value < signal.value
    group = next(g for g in report.groups if {"s1", "c1"} <= set(g.members))
    assert not noise(group.value, group.std, group.repeats)
    assert group.value > max(report.values["s1"].value, report.values["c1"].value)

    again = cli("snapshot", "add", str(path), "--label", "y", "--consumer", "ranker")
    assert f"Already registered as snapshot {summary.id}" in again.output


def test_unlabelled_csv_snapshot_and_the_newest_evidence_rule(client, cli, db_url, labelled,
                                                              tmp_path):
    _catalog(client)
    path, frame = labelled
    assert cli("snapshot", "add", str(path), "--no-importance").exit_code == 0
    later = frame.copy()
    later["c1"] = np.random.default_rng(9).normal(size=len(later))  # no longer a copy of s1
    csv_path = tmp_path / "later.csv"
    later.drop(columns=["y"]).to_csv(csv_path, index=False)
    result = cli("snapshot", "add", str(csv_path), "--name", "october")
    assert result.exit_code == 0, result.output
    assert "computed importance" not in result.output
    assert "columns not in the catalog (ignored): extra" in result.output

    with session_scope(session_factory(db_url)) as session:
        newest, oldest = snapshots.list_snapshots(session)
        latest = {(p.a, p.b): p.snapshot_id for p in snapshots.latest_correlations(session)}
        assert importance.latest_reports(session) == {}
        with pytest.raises(InvalidInput, match="without --label"):
            snapshots.compute_snapshot_importance(session, newest.id)
    assert newest.name == "october" and newest.label is None
    assert ("s1", "c1") not in latest  # the newer snapshot holds both and no longer pairs them
    assert latest[("s2", "m")] == newest.id


def test_computed_importance_refuses_a_changed_file(client, cli, db_url, labelled):
    _catalog(client)
    path, frame = labelled
    cli("snapshot", "add", str(path), "--label", "y", "--consumer", "ranker", "--no-importance")
    with session_scope(session_factory(db_url)) as session:
        (summary,) = snapshots.list_snapshots(session)
    frame.iloc[:300].to_parquet(path)
    failed = cli("snapshot", "importance", str(summary.id))
    assert failed.exit_code == 1 and "changed since snapshot" in failed.output


def test_correlate_command_reports_exactly_the_pandas_pairs(tmp_path, labelled):
    from click.testing import CliRunner

    from registry.cli import main

    path, frame = labelled
    runner = CliRunner()
    result = runner.invoke(main, ["--db", "sqlite:///nowhere/none.db", "snapshot", "correlate",
                                  str(path), "--threshold", "0.5", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = {(p["a"], p["b"]): (p["pearson"], p["spearman"], p["n"])
           for p in json.loads(result.output)}
    _assert_same_pairs(got, _pandas_pairs(frame, 0.5))
    assert ("s1", "y") in got or ("s2", "y") in got

    table = runner.invoke(main, ["snapshot", "correlate", str(path), "--method", "pearson"])
    assert table.exit_code == 0 and "pairs at |r| >= 0.95" in table.output
