"""/healthz and /metrics: figures read from the database, so every worker answers the same."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from registry.ops.health import check_health, ops_figures
from registry.store.db import session_factory, session_scope


def _families(app: Flask) -> dict[str, list[tuple[dict[str, str], float]]]:
    body = app.test_client().get("/metrics").get_data(as_text=True)
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(body)}


def test_healthz_reports_database_schema_and_scheduler(app: Flask, catalog_url: str) -> None:
    web = app.test_client()
    health = web.get("/healthz")
    assert health.status_code == 200
    body = health.get_json()
    assert body["database"] and body["schema"]["current"]
    assert body["scheduler"]["state"] == "not scheduled"
    engine = create_engine(catalog_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO apscheduler_jobs (id, next_run_time, job_state) "
                          "VALUES ('analyze', 1000.0, x'00')"))
    try:
        late = web.get("/healthz").get_json()
        assert late["status"] == "degraded" and late["scheduler"]["state"] == "overdue"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM apscheduler_jobs"))
        engine.dispose()


def test_the_health_check_fails_on_a_database_without_the_schema(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    health = check_health(engine)  # (create_app itself refuses such a database)
    engine.dispose()
    assert not health.ok and health.as_dict()["status"] == "failing"
    assert "featreg init" in health.errors[0]


def test_metrics_have_request_latency_and_database_figures(app: Flask,
                                                           catalog_url: str) -> None:
    web = app.test_client()
    web.get("/features/user_clicks_7d")
    families = _families(app)
    routes = {labels["route"] for labels, _ in
              families["featreg_http_request_duration_seconds"]}
    assert "/features/<name>" in routes
    with session_scope(session_factory(catalog_url)) as session:
        figures = ops_figures(session)
    findings = {(labels["kind"], labels["severity"]): value
                for labels, value in families["featreg_findings_open"]}
    assert findings == {key: float(n) for key, n in figures.open_findings.items()}
    assert sum(findings.values()) > 0
    usage = {labels["outcome"]: value for labels, value in families["featreg_usage_events"]}
    assert usage["taken"] == figures.usage_events
