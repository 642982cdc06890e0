"""Importance: CSV ingest (all or nothing), SDK reports, history, latest report per consumer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from registry.core.errors import InvalidInput, NotFound
from registry.evidence import importance
from registry.sdk.client import Client
from registry.store.db import session_factory, session_scope

T1 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def _catalog(client: Client) -> None:
    with client.batch():
        client.register_team("ads", contact="ads@example.com")
        for name in ("clicks", "age", "country"):
            client.register_feature(name, owner="ads", dtype="float", description="x")
        for name in ("ctr_model", "churn_model"):
            client.register_consumer(name, kind="model", owner="ads", features=["clicks", "age"])


def _history(url: str, consumer: str) -> list[importance.ImportanceReportView]:
    with session_scope(session_factory(url)) as session:
        return importance.report_history(session, consumer)


def test_csv_ingest_keeps_history_and_latest_report_per_consumer(client, cli, tmp_path, db_url):
    _catalog(client)
    path = tmp_path / "importance.csv"
    path.write_text(
        "consumer,feature,importance,method,metric,ts\n"
        "ctr_model,clicks,0.50,permutation,auc,2026-10-01T09:00:00Z\n"
        "ctr_model,age,0.10,permutation,auc,2026-10-01T09:00:00Z\n"
        "ctr_model,clicks,0.40,permutation,auc,2026-10-08T11:00:00+02:00\n"
        "ctr_model,age,0.20,permutation,auc,2026-10-08T11:00:00+02:00\n"
        "ctr_model,raw_input_7,0.05,permutation,auc,2026-10-08T11:00:00+02:00\n"
        "churn_model,clicks,3.5,gain,,2026-10-02\n"
    )
    result = cli("importance", "ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "6 rows: 3 reports created, 0 replaced, 0 unchanged" in result.output
    assert "features not in the catalog: raw_input_7" in result.output

    history = _history(db_url, "ctr_model")
    assert [r.reported_at for r in history] == [T1 + timedelta(days=7), T1]
    assert {f: e.value for f, e in history[0].values.items()} == {
        "clicks": 0.4, "age": 0.2, "raw_input_7": 0.05}
    assert {f: e.value for f, e in history[1].values.items()} == {"clicks": 0.5, "age": 0.1}
    assert (history[0].method, history[0].metric, history[0].source) == (
        "permutation", "auc", "reported")

    with session_scope(session_factory(db_url)) as session:
        latest = importance.latest_reports(session)
    assert sorted(latest) == ["churn_model", "ctr_model"]
    assert latest["ctr_model"].id == history[0].id
    assert latest["churn_model"].reported_at == datetime(2026, 10, 2, tzinfo=UTC)
    assert latest["churn_model"].metric is None

    shown = json.loads(cli("importance", "show", "ctr_model", "--format", "json").output)
    assert [r["values"]["clicks"]["value"] for r in shown] == [0.4]

    again = cli("importance", "ingest", str(path))
    assert "3 reports created" not in again.output
    assert "0 reports created, 0 replaced, 3 unchanged" in again.output
    path.write_text("consumer,feature,importance,method,metric,ts\n"
                    "ctr_model,clicks,0.45,permutation,auc,2026-10-01T09:00:00Z\n")
    assert "1 replaced" in cli("importance", "ingest", str(path)).output
    assert {f: e.value for f, e in _history(db_url, "ctr_model")[1].values.items()} == {
        "clicks": 0.45}
    assert len(_history(db_url, "ctr_model")) == 2


def test_csv_with_bad_rows_is_refused_whole_with_line_numbers(client, cli, tmp_path, db_url):
    _catalog(client)
    path = tmp_path / "bad.csv"
    path.write_text(
        "consumer,feature,importance,ts\n"
        "ctr_model,clicks,0.5,2026-10-01T09:00:00Z\n"
        "ctr_model,age,lots,2026-10-01T09:00:00Z\n"
        "nobody,age,0.1,\n"
        "ctr_model,country,0.1,2026-10-01T09:00:00\n"
        "ctr_model,clicks,nan,\n"
        "ctr_model,clicks,0.7,2026-10-01T09:00:00Z\n"
    )
    result = cli("importance", "ingest", str(path))
    assert result.exit_code == 1
    for line, words in ((3, "not a number"), (4, "no consumer named 'nobody'"),
                        (5, "no timezone"), (6, "not a finite number"), (7, "appears twice")):
        assert f"bad.csv:{line}" in result.output and words in result.output
    assert "bad.csv:2" not in result.output
    assert _history(db_url, "ctr_model") == []

    path.write_text("consumer,feature,value\nctr_model,clicks,1\n")
    header = cli("importance", "ingest", str(path))
    assert header.exit_code == 1 and "missing importance; unknown value" in header.output


def test_sdk_reports_replace_same_key_and_reported_wins_over_computed(client, db_url):
    _catalog(client)
    first = client.report_importance("ctr_model", {"clicks": 0.3, "age": 0.1},
                                     method="shap", metric="logloss", ts=T1)
    same = client.report_importance("ctr_model", {"clicks": 0.3, "age": 0.1},
                                    method="shap", metric="logloss", ts=T1)
    assert same == first
    later = client.report_importance("ctr_model", {"clicks": 0.2})
    assert later != first
    with pytest.raises(NotFound):
        client.report_importance("ghost_model", {"clicks": 1.0})
    with pytest.raises(InvalidInput):
        client.report_importance("ctr_model", {"clicks": float("inf")})
    with pytest.raises(InvalidInput):
        client.report_importance("ctr_model", {})

    with session_scope(session_factory(db_url)) as session:
        importance.store_report(
            session, "churn_model", {"clicks": importance.ImportanceEntry(0.2, 0.01, 5)},
            reported_at=T1, method="permutation-computed", metric="roc_auc", source="computed",
            groups=[importance.GroupEntry(("clicks", "age"), 0.3, 0.02, 5)])
        importance.store_report(
            session, "ctr_model", {"clicks": importance.ImportanceEntry(0.9, 0.01, 5)},
            reported_at=datetime.now(UTC) + timedelta(days=1), method="permutation-computed",
            source="computed")
    with session_scope(session_factory(db_url)) as session:
        effective = importance.effective_reports(session)
        computed = importance.latest_reports(session, source="computed")
    assert effective["ctr_model"].id == later  # reported beats a newer computed report
    assert effective["churn_model"].source == "computed"
    assert effective["churn_model"].values["clicks"] == importance.ImportanceEntry(0.2, 0.01, 5)
    assert effective["churn_model"].groups == (
        importance.GroupEntry(("age", "clicks"), 0.3, 0.02, 5),)
    assert computed["ctr_model"].values["clicks"].value == 0.9
    assert client.latest_importance("ctr_model")["ctr_model"]["method"] == "permutation-computed"
