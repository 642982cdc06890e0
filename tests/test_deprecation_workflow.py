"""The deprecation workflow end to end, with injected time: deprecate → the weekly report names
whom to contact → the sunset passes → the sunset job retires the feature (audited, actor
"scheduler") → reads of the retired feature are critical findings → undeprecate. Every step is
an audit event."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import Cli
from ops_world import CONTACTS, analyze, findings, load_world
from sqlalchemy import select

from registry.store import models as m
from registry.store.db import session_factory, session_scope

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN)
SUNSET = date(2026, 11, 20)


def _ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.output


def _report(cli: Cli, now: datetime, tmp_path: Path) -> dict[str, dict[str, Any]]:
    _ok(cli, "report", "weekly", "--now", now.isoformat(), "--timezone", "Europe/Berlin",
        "--out", str(tmp_path / "reports"))
    with session_scope(session_factory(cli.url)) as session:
        week_start = now.date() - timedelta(days=now.weekday())
        rows = session.scalars(select(m.WeeklyReport).where(
            m.WeeklyReport.week_start == week_start, m.WeeklyReport.scope == "team"))
        return {row.team: row.content for row in rows}


def _status(cli: Cli, feature: str) -> str:
    return str(json.loads(_ok(cli, "show", feature, "--format", "json"))["status"])


def _in_use(cli: Cli, feature: str) -> dict[str, Any] | None:
    return next((f for f in findings(cli) if f["kind"] == "deprecated_in_use"
                 and f["subject"]["name"] == feature), None)


def test_deprecate_report_sunset_retire_critical_undeprecate(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATREG_REPORT_TIMEZONE", "Europe/Berlin")
    load_world(cli, tmp_path / "world", MONDAY)

    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        _ok(cli, "deprecate", "clicks_7d", "--sunset", SUNSET.isoformat(),
            "--replacement", "clicks_7d_copy", "--reason", "superseded by clicks_7d_copy")
    tuesday = MONDAY + timedelta(days=1)
    analyze(cli, tuesday)
    warning = _in_use(cli, "clicks_7d")
    assert warning is not None and warning["severity"] == "warning"
    assert not warning["evidence"]["past_sunset"]

    reports = _report(cli, tuesday, tmp_path)
    entry = next(d for d in reports["growth"]["deprecated"] if d["feature"] == "clicks_7d")
    declared = {"ctr_model": "ads", "growth_dash": "growth", "risk_model": "risk"}
    assert {(p["consumer"], p["team"]) for p in entry["declared_consumers"]} == set(
        declared.items())
    assert entry["contacts"] == [{"team": t, "contact": CONTACTS[t]}
                                 for t in sorted(set(declared.values()))]
    readers = {r["consumer"]: (r["registered"], r["declared"]) for r in entry["readers"]}
    assert readers == {"ctr_model": (True, True), "growth_dash": (True, True),
                       "risk_model": (True, True), "rogue_job": (False, False)}
    assert (entry["replacement"], entry["sunset"]) == ("clicks_7d_copy", SUNSET.isoformat())
    for team, consumer in (("ads", "ctr_model"), ("risk", "risk_model")):
        dependency = next(d for d in reports[team]["deprecated_dependencies"]
                          if d["feature"] == "clicks_7d")
        assert dependency["our_consumers"] == [consumer]
    assert [(e["feature"], e["change"], e["actor"])
            for e in reports["growth"]["changes"]["lifecycle"]] == [
        ("clicks_7d", "deprecated", "tester")]
    markdown = (tmp_path / "reports" / "2026-W47" / "teams" / "growth.md").read_text()
    assert "ads <ads@example.com>, growth <growth@example.com>, risk <risk@example.com>" in (
        markdown)

    # the sunset passes at local midnight: not yet at 23:59 on the sunset day, retired after
    with time_machine.travel(datetime(2026, 11, 20, 23, 59, tzinfo=BERLIN), tick=False):
        early = json.loads(_ok(cli, "jobs", "run", "sunset"))
    assert early["summary"]["retired"] == [] and _status(cli, "clicks_7d") == "deprecated"
    with time_machine.travel(datetime(2026, 11, 21, 0, 30, tzinfo=BERLIN), tick=False):
        done = json.loads(_ok(cli, "jobs", "run", "sunset"))
    assert done["summary"]["retired"] == ["clicks_7d"] and _status(cli, "clicks_7d") == "retired"

    saturday = datetime(2026, 11, 21, 1, 0, tzinfo=BERLIN)
    analyze(cli, saturday)
    critical = _in_use(cli, "clicks_7d")
    assert critical is not None and critical["severity"] == "critical"
    assert critical["evidence"]["status"] == "retired"
    assert {r["principal"] for r in critical["evidence"]["readers"]} == set(readers)
    rogue = next(f for f in findings(cli) if f["kind"] == "undeclared_consumer"
                 and f["subject"]["name"] == "rogue_job")
    assert rogue["severity"] == "critical"

    next_week = _report(cli, MONDAY + timedelta(days=7), tmp_path)
    entry = next(d for d in next_week["growth"]["deprecated"] if d["feature"] == "clicks_7d")
    assert (entry["status"], entry["severity"]) == ("retired", "critical")
    assert [(e["feature"], e["change"], e["actor"])
            for e in next_week["growth"]["changes"]["lifecycle"]] == [
        ("clicks_7d", "retired", "scheduler")]

    _ok(cli, "undeprecate", "clicks_7d")
    assert _status(cli, "clicks_7d") == "active"
    analyze(cli, saturday + timedelta(hours=1))
    assert _in_use(cli, "clicks_7d") is None

    history = json.loads(_ok(cli, "history", "clicks_7d", "--format", "json"))
    steps = [(e["actor"], e["after"].get("status")) for e in reversed(history)
             if e["action"] == "update"]
    assert steps == [("tester", "deprecated"), ("scheduler", "retired"), ("tester", "active")]
