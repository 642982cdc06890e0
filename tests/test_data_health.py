"""Data health over time: source updates and stale_source, readiness and unready_dependency.

Pure detector tests on small synthetic inputs built for the definitions, then the ways in
(`featreg source refreshed`, the API, `featreg openlineage ingest`) through `featreg analyze`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, admin_token
from sqlalchemy import update

from registry.access.tokens import create_token
from registry.analysis.detectors import KINDS, run_detectors
from registry.analysis.detectors.stale_source import StaleSourceDetector
from registry.analysis.detectors.unready_dependency import UnreadyDependencyDetector
from registry.analysis.inputs import AnalysisInput, ConsumerInfo, FeatureInfo, SourceInfo
from registry.store import models as m
from registry.store.db import session_factory, session_scope

NOW = datetime(2026, 3, 17, 12, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=60)


def _input(sources: list[SourceInfo], features: list[FeatureInfo],
           consumers: list[ConsumerInfo]) -> AnalysisInput:
    return AnalysisInput.build(now=NOW, sources=sources, features=features, consumers=consumers)


def _feature(name: str, sources: tuple[str, ...] = (), depends_on: tuple[str, ...] = ()
             ) -> FeatureInfo:
    return FeatureInfo(name=name, created=LONG_AGO, sources=sources, depends_on=depends_on)


# ----- stale_source (pure) -----------------------------------------------------------------------


def _stale_world(last: dict[str, datetime | None], freshness: str = "1d",
                 registered: datetime = LONG_AGO) -> AnalysisInput:
    sources = [SourceInfo(name=n, freshness=freshness, registered=registered, last_update=t)
               for n, t in last.items()]
    sources.append(SourceInfo(name="scores", kind="model_output", produced_by="ranker"))
    sources.append(SourceInfo(name="undeclared", registered=registered))  # no freshness
    features = [_feature(f"{n}_f", (n,)) for n in last] + [
        _feature("derived", depends_on=tuple(f"{n}_f" for n in last)),
        _feature("score_f", ("scores",)), _feature("undeclared_f", ("undeclared",))]
    consumers = [ConsumerInfo(name="ranker", stage="production", features=("derived",),
                              produces=("scores",)),
                 ConsumerInfo(name="dashboard", kind="dashboard", features=("score_f",)),
                 ConsumerInfo(name="other", features=("undeclared_f",))]
    return _input(sources, features, consumers)


def test_a_source_older_than_its_freshness_is_stale_with_its_transitive_consumers() -> None:
    inp = _stale_world({"fresh": NOW - timedelta(hours=23), "late": NOW - timedelta(hours=25),
                        "never": None})
    found = {f.subject_name: f for f in StaleSourceDetector().run(inp)}
    assert set(found) == {"late", "never"}
    late = found["late"]
    # the dashboard reads the ranker's output, which is built on `late`
    assert late.related == (("consumer", "dashboard"), ("consumer", "ranker"))
    assert late.severity == "critical"  # the ranker is in production
    assert late.evidence["overdue_seconds"] == 3600
    assert found["never"].evidence["never_updated"] is True


def test_updates_after_now_are_ignored_and_new_sources_get_one_period() -> None:
    inp = _stale_world({"future": NOW + timedelta(hours=1)})
    assert [f.subject_name for f in StaleSourceDetector().run(inp)] == ["future"]
    new = _stale_world({"new": None}, registered=NOW - timedelta(hours=2))
    assert StaleSourceDetector().run(new) == []
    assert StaleSourceDetector().run(_stale_world({"w": NOW - timedelta(days=6)}, "7d")) == []


# ----- unready_dependency (pure) -----------------------------------------------------------------


def _readiness_world() -> AnalysisInput:
    sources = [SourceInfo(name="a_src", readiness="A"), SourceInfo(name="b_src", readiness="B"),
               SourceInfo(name="c_src", readiness="C"), SourceInfo(name="unassessed"),
               SourceInfo(name="model.out", kind="model_output", produced_by="upstream_model")]
    features = [_feature("fa", ("a_src",)), _feature("fb", ("b_src",)),
                _feature("fc", ("c_src",)), _feature("fu", ("unassessed",)),
                _feature("chain", depends_on=("fc",)), _feature("scored", ("model.out",))]
    consumers = [
        ConsumerInfo(name="prod_ok", stage="production", features=("fa", "fu")),
        ConsumerInfo(name="prod_direct", stage="production", features=("fa", "fb")),
        ConsumerInfo(name="prod_chain", stage="production", features=("chain",)),
        ConsumerInfo(name="prod_via_model", stage="production", features=("scored",)),
        ConsumerInfo(name="upstream_model", stage="development", features=("fc", "fb"),
                     produces=("model.out",)),
        ConsumerInfo(name="staging_b", stage="staging", features=("fb", "fa")),
        ConsumerInfo(name="staging_c", stage="staging", features=("chain", "fb")),
        ConsumerInfo(name="dev_c", stage="development", features=("fc",)),
    ]
    return _input(sources, features, consumers)


def test_unready_dependency_names_exactly_the_sources_below_the_stage_need() -> None:
    found = {f.subject_name: f for f in UnreadyDependencyDetector().run(_readiness_world())}
    assert {n: [r[1] for r in f.related] for n, f in found.items()} == {
        "prod_direct": ["b_src"],
        "prod_chain": ["c_src"],
        "prod_via_model": ["b_src", "c_src"],  # the inputs of the model whose output it reads
        "staging_c": ["c_src"],
    }
    assert found["prod_direct"].severity == "critical"
    assert found["staging_c"].severity == "warning"
    assert found["prod_chain"].evidence["needs"] == "A"


def test_unassessed_sources_are_never_a_finding() -> None:
    inp = _readiness_world()
    assert "prod_ok" not in {f.subject_name for f in UnreadyDependencyDetector().run(inp)}


def test_the_new_kinds_are_registered() -> None:
    assert {"stale_source", "unready_dependency"} <= set(KINDS)
    kinds = {f.kind for f in run_detectors(_readiness_world())}
    assert "unready_dependency" in kinds


# ----- the ways in, through analyze ------------------------------------------------------------

SPEC = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, freshness: 1d, readiness: B}
  - {name: warehouse.orders, kind: table, owner: growth, freshness: 6h, readiness: A}
  - {name: warehouse.failed, kind: table, owner: growth, freshness: 1d}
  - {name: reported.table, kind: table, owner: ads, freshness: 1d}
features:
  - {name: clicks_7d, owner: growth, dtype: int, sources: [warehouse.clicks]}
  - {name: orders_7d, owner: growth, dtype: int, sources: [warehouse.orders]}
  - {name: failed_f, owner: growth, dtype: int, sources: [warehouse.failed]}
  - {name: reported_f, owner: ads, dtype: int, sources: [reported.table]}
consumers:
  - {name: ranker, kind: model, owner: growth, stage: production,
     features: [clicks_7d, orders_7d, failed_f]}
  - {name: reporter, kind: job, owner: ads, features: [reported_f]}
"""


def _run(run_id: str, event_type: str, when: datetime, output: str) -> dict[str, Any]:
    return {"eventType": event_type, "eventTime": when.isoformat().replace("+00:00", "Z"),
            "run": {"runId": run_id}, "job": {"namespace": "etl", "name": f"load_{output}"},
            "inputs": [], "outputs": [{"namespace": "warehouse", "name": output}],
            "producer": "https://example.com/tests",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}


def _findings(cli: Cli, kind: str) -> dict[str, dict[str, Any]]:
    result = cli("findings", "--kind", kind, "--format", "json")
    assert result.exit_code == 0, result.output
    return {f["subject"]["name"]: f for f in json.loads(result.stdout)}


def test_openlineage_and_reports_update_sources_and_analyze_finds_stale_ones(
        cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert cli("apply", str(spec)).exit_code == 0
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(session_factory(cli.url)) as session:  # past its first period of grace
        session.execute(update(m.Source).values(registered_at=now - timedelta(days=2)))
    events = [
        _run("r1", "START", now - timedelta(hours=30), "warehouse.clicks"),
        _run("r1", "COMPLETE", now - timedelta(hours=2), "warehouse.clicks"),
        _run("r2", "START", now - timedelta(hours=1), "warehouse.orders"),
        _run("r2", "RUNNING", now - timedelta(minutes=30), "warehouse.orders"),
        _run("r3", "COMPLETE", now - timedelta(hours=10), "warehouse.orders"),
        _run("r4", "FAIL", now - timedelta(hours=1), "warehouse.failed"),
        _run("r5", "ABORT", now - timedelta(hours=1), "warehouse.failed"),
        _run("r6", "COMPLETE", now + timedelta(days=3), "warehouse.failed"),  # after --now
    ]
    lines = tmp_path / "events.ndjson"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    result = cli("openlineage", "ingest", str(lines))
    assert result.exit_code == 0, result.output
    assert cli("openlineage", "ingest", "-", input=lines.read_text()).exit_code == 0  # retry
    with session_scope(session_factory(cli.url)) as session:
        rows = sorted((u.source, u.how) for u in session.query(m.SourceUpdate))
    assert rows == [("warehouse.clicks", "openlineage"), ("warehouse.failed", "openlineage"),
                    ("warehouse.orders", "openlineage")]
    assert cli("openlineage", "ingest", "-", input="{not json\n").exit_code == 1
    # a report for a pipeline without OpenLineage; bad times are refused, nothing stored
    assert cli("source", "refreshed", "reported.table", "--at",
               "2026-01-01T00:00:00").exit_code == 1
    assert cli("source", "refreshed", "reported.table", "--at",
               (now + timedelta(days=1)).isoformat()).exit_code == 1
    assert cli("source", "refreshed", "nope").exit_code == 1
    ok = cli("source", "refreshed", "reported.table", "--at",
             (now - timedelta(hours=3)).isoformat())
    assert ok.exit_code == 0, ok.output
    assert cli("analyze", "--now", now.isoformat()).exit_code == 0
    stale = _findings(cli, "stale_source")
    # orders: 10 h old, freshness 6 h; failed: only failed/aborted runs, and a run after now
    assert set(stale) == {"warehouse.orders", "warehouse.failed"}
    assert stale["warehouse.orders"]["related"] == [{"type": "consumer", "name": "ranker"}]
    assert stale["warehouse.orders"]["severity"] == "critical"
    unready = _findings(cli, "unready_dependency")
    assert list(unready) == ["ranker"]
    assert unready["ranker"]["related"] == [{"type": "source", "name": "warehouse.clicks"}]
    explained = cli("explain", str(unready["ranker"]["id"]))
    assert explained.exit_code == 0 and "readiness" in explained.output

    # The weekly report has a data-health section per team: growth owns both stale sources
    # and the production model on data below its readiness; ads has none of them.
    out = tmp_path / "reports"
    reported = cli("report", "weekly", "--now", now.isoformat(), "--out", str(out))
    assert reported.exit_code == 0, reported.output
    growth = next(out.rglob("growth.md")).read_text()
    section = growth.split("5. Data health")[1].split("6. What changed")[0]
    assert "(3)" in section.splitlines()[0]
    for line in ("stale_source `warehouse.orders`", "stale_source `warehouse.failed`",
                 "unready_dependency `ranker`"):
        assert line in section, section
    ads = next(out.rglob("ads.md")).read_text()
    assert "No unstable dependency, stale source or unready dependency" in ads
    report_json = json.loads(next(out.rglob("growth.json")).read_text())
    assert [d["kind"] for d in report_json["data_health"]].count("stale_source") == 2


def test_the_refreshed_endpoint_keeps_team_scope(cli: Cli, tmp_path: Path) -> None:
    from featreg.web import create_app

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert cli("apply", str(spec)).exit_code == 0
    with session_scope(session_factory(cli.url)) as session:
        _row, ads = create_token(session, name="ads-bot", team="ads", admin=False,
                                 created_by="tests")
    web = create_app({"DATABASE_URL": cli.url, "TESTING": True}).test_client()
    assert web.post("/api/v1/sources/reported.table/refreshed").status_code == 401
    web.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ads}"
    assert web.post("/api/v1/sources/warehouse.clicks/refreshed").status_code == 403
    assert web.post("/api/v1/sources/reported.table/refreshed",
                    json={"at": "2026-01-01T00:00:00"}).status_code == 400
    created = web.post("/api/v1/sources/reported.table/refreshed",
                       json={"at": "2026-01-01T00:00:00Z"})
    assert created.status_code == 201, created.get_json()
    again = web.post("/api/v1/sources/reported.table/refreshed",
                     json={"at": "2026-01-01T00:00:00Z"})
    assert again.status_code == 200
    web.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token(cli.url)}"
    assert web.post("/api/v1/sources/nope/refreshed").status_code == 404
    page = web.get("/sources/reported.table").get_data(as_text=True)
    assert "2026-01-01" in page and "overdue by" in page
    detail = web.get("/api/v1/sources/reported.table").get_json()
    assert detail["updates"]["last_update"].startswith("2026-01-01")


@pytest.mark.parametrize("text", ["3 parsecs", "1.5d"])
def test_bad_freshness_is_refused_at_apply(cli: Cli, tmp_path: Path, text: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("freshness: 6h", f"freshness: {text}"))
    assert cli("apply", str(spec)).exit_code == 1
