"""The hourly freshness job: a source that goes stale between two nightly analyses becomes a
finding within the hour, and a check that agrees with the findings does no analysis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from registry.core.settings import SchedulerSettings
from registry.ops.jobs import JOBS, JobContext, execute_job
from tests.conftest import Cli

SPEC = """\
teams:
  - {name: growth, contact: growth@example.com}
sources:
  - {name: warehouse.orders, kind: table, owner: growth, freshness: 6h}
  - {name: warehouse.static, kind: table, owner: growth}
features:
  - {name: orders_7d, owner: growth, dtype: int, sources: [warehouse.orders]}
  - {name: static_f, owner: growth, dtype: int, sources: [warehouse.static]}
consumers:
  - {name: ranker, kind: model, owner: growth, stage: production, features: [orders_7d]}
"""


def _stale(cli: Cli) -> dict[str, dict[str, Any]]:
    result = cli("findings", "--kind", "stale_source", "--format", "json")
    assert result.exit_code == 0, result.output
    return {f["subject"]["name"]: f for f in json.loads(result.stdout)}


def test_the_freshness_job_is_hourly_by_default() -> None:
    schedule, _does = SchedulerSettings.jobs()["freshness"]
    assert schedule.split()[1:] == ["*", "*", "*", "*"]
    assert "freshness" in JOBS


def test_a_source_going_stale_between_analyses_is_found_by_the_hourly_check(
        cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert cli("apply", str(spec)).exit_code == 0
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    refreshed = cli("source", "refreshed", "warehouse.orders", "--at", t0.isoformat())
    assert refreshed.exit_code == 0, refreshed.output
    assert cli("analyze", "--now", (t0 + timedelta(hours=1)).isoformat()).exit_code == 0
    assert _stale(cli) == {}

    ctx = JobContext(url=cli.url, holder="test")

    def run_at(hours: float) -> Any:
        """The job as the scheduler runs it, at ``t0 + hours`` (jobs read the clock)."""
        when = t0 + timedelta(hours=hours)
        with time_machine.travel(when, tick=False):
            return execute_job(ctx, "freshness", scheduled_for=when)

    # Two hours later nothing changed: the check agrees with the findings, no analysis runs.
    quiet = run_at(2)
    assert quiet is not None and quiet.status == "succeeded", quiet
    assert quiet.summary == {"stale": [], "recorded": [], "analysis_run": None}

    # Seven hours after its last update (freshness 6 h) the source is stale: the check runs
    # the analysis, and the finding names the production consumer.
    late = run_at(7)
    assert late is not None and late.summary is not None, late
    assert late.summary["stale"] == ["warehouse.orders"] and late.summary["recorded"] == []
    assert isinstance(late.summary["analysis_run"], int)
    stale = _stale(cli)
    assert list(stale) == ["warehouse.orders"]
    assert stale["warehouse.orders"]["related"] == [{"type": "consumer", "name": "ranker"}]

    # The next hour agrees again; after a refresh the check resolves the finding.
    again = run_at(8)
    assert again is not None and again.summary is not None
    assert again.summary["analysis_run"] is None
    at = t0 + timedelta(hours=8, minutes=30)
    assert cli("source", "refreshed", "warehouse.orders", "--at", at.isoformat()).exit_code == 0
    fresh = run_at(9)
    assert fresh is not None and fresh.summary is not None
    assert fresh.summary["stale"] == [] and fresh.summary["recorded"] == ["warehouse.orders"]
    assert isinstance(fresh.summary["analysis_run"], int)
    assert _stale(cli) == {}
