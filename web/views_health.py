"""`/healthz` for load balancers and orchestrators, `/metrics` for Prometheus.

`/healthz` answers 200 when the database answers with the current schema (the scheduler's
state is reported in the body: a stopped scheduler leaves pages and the API working) and 503
otherwise. `/metrics` has this process's request latency by route, and figures read from the
database at scrape time (the same from every worker): open findings by kind and severity, job
executions and the last duration of each job, usage events taken and refused, OpenLineage
events stored. With several worker processes, set PROMETHEUS_MULTIPROC_DIR to an empty
directory so the request histograms of all workers are added up (prometheus-client's
multiprocess mode).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from registry.ops.health import check_health, ops_figures
from registry.store.db import get_engine

from .support import sessions

bp = Blueprint("health", __name__)

REQUEST_SECONDS = Histogram(
    "featreg_http_request_duration_seconds", "Time to answer a request, by route.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0))


class DatabaseFigures(Collector):
    """Figures read from the database at scrape time."""

    def collect(self) -> Iterator[Metric]:
        factory = sessions()
        with factory() as session:
            figures = ops_figures(session)
        findings = GaugeMetricFamily("featreg_findings_open", "Open or acknowledged findings.",
                                     labels=["kind", "severity"])
        for (kind, severity), count in sorted(figures.open_findings.items()):
            findings.add_metric([kind, severity], count)
        yield findings
        runs = CounterMetricFamily("featreg_job_runs", "Executions of scheduled jobs.",
                                   labels=["job", "status"])
        for (job, status), count in sorted(figures.job_runs.items()):
            runs.add_metric([job, status], count)
        yield runs
        last = GaugeMetricFamily("featreg_job_last_duration_seconds",
                                 "Duration of each job's latest finished execution.",
                                 labels=["job"])
        for job, seconds in sorted(figures.job_last_seconds.items()):
            last.add_metric([job], seconds)
        yield last
        events = CounterMetricFamily("featreg_usage_events", "Usage events by outcome.",
                                     labels=["outcome"])
        events.add_metric(["taken"], figures.usage_events)
        events.add_metric(["refused"], figures.usage_rejected)
        yield events
        yield CounterMetricFamily("featreg_openlineage_events", "OpenLineage events stored.",
                                  value=figures.openlineage_events)


@bp.get("/healthz")
def healthz() -> Response:
    health = check_health(get_engine(current_app.config["DATABASE_URL"]))
    response = jsonify(health.as_dict())
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(DatabaseFigures())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g.featreg_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("featreg_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
