"""One unit of work per user action: the entry point (command, job) opens it, the services
work in it and never commit, so a failure halfway through leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli
from ops_world import analyze, load_world, write_world
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.findings import run as analysis_run
from registry.ops.scheduler import run_job_now
from registry.reports import service as report_service
from registry.store import models as m
from registry.store.db import session_factory, session_scope

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


@pytest.fixture
def world(cli: Cli, tmp_path: Path) -> Cli:
    """The ops world, analysed once, plus a labelled snapshot whose importance the next
    analysis computes (its evidence refresh writes rows before the detectors run)."""
    load_world(cli, tmp_path / "world", NOW)
    analyze(cli, NOW)
    snapshot = write_world(tmp_path / "labelled", NOW)["snapshot"]
    lines = snapshot.read_text(encoding="utf-8").splitlines()
    labelled = [lines[0] + ",label"] + [f"{line},{i % 2}" for i, line in enumerate(lines[1:])]
    snapshot.write_text("\n".join(labelled) + "\n", encoding="utf-8")
    added = cli("snapshot", "add", str(snapshot), "--label", "label", "--consumer", "ctr_model",
                "--no-importance")
    assert added.exit_code == 0, added.output
    return cli


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _state(url: str) -> dict[str, Any]:
    """Everything an analysis or a report writes."""
    with session_scope(session_factory(url)) as session:
        return {
            "runs": sorted(session.execute(select(m.AnalysisRun.id, m.AnalysisRun.summary))),
            "findings": sorted(session.execute(select(
                m.Finding.id, m.Finding.status, m.Finding.last_run_id, m.Finding.last_seen))),
            "importance": _count(session, m.ImportanceReport),
            "reports": _count(session, m.WeeklyReport),
        }


def test_a_detector_failing_after_the_evidence_refresh_leaves_nothing_behind(
        world: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(world.url)
    seen: list[int] = []

    def fail_after_refresh(inp: Any) -> Any:
        seen.append(len(inp.importance))
        raise RuntimeError("a detector failed halfway")

    monkeypatch.setattr(analysis_run, "run_detectors", fail_after_refresh)
    with pytest.raises(RuntimeError, match="halfway"):
        world("analyze", "--now", LATER.isoformat())
    assert seen, "the detectors should have run after the evidence refresh"
    assert _state(world.url) == before


def test_a_failure_while_recording_findings_leaves_the_previous_run_as_it_was(
        world: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(world.url)
    real = analysis_run.record_findings
    written: list[int] = []

    def record_then_fail(session: Session, *args: Any, **kwargs: Any) -> Any:
        real(session, *args, **kwargs)
        session.flush()
        written.append(_count(session, m.ImportanceReport))
        raise RuntimeError("recording failed halfway")

    monkeypatch.setattr(analysis_run, "record_findings", record_then_fail)
    with pytest.raises(RuntimeError, match="halfway"):
        world("analyze", "--now", LATER.isoformat())
    assert written and written[0] > before["importance"], "rows were added in the session"
    assert _state(world.url) == before


def test_a_failing_analysis_job_records_its_failure_and_nothing_else(
        world: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(world.url)

    def fail(inp: Any) -> Any:
        raise RuntimeError("a detector failed halfway")

    monkeypatch.setattr(analysis_run, "run_detectors", fail)
    outcome = run_job_now(world.url, "analysis")
    assert (outcome.status, outcome.error) == ("failed", "RuntimeError: a detector failed "
                                                         "halfway")
    assert _state(world.url) == before


def _count_saves(monkeypatch: pytest.MonkeyPatch, fail_after: int | None = None) -> list[int]:
    """The ids of the reports the report service stores (it fails after ``fail_after``)."""
    real = report_service.save_report
    stored: list[int] = []

    def save(session: Session, **kwargs: Any) -> Any:
        if len(stored) == fail_after:
            raise RuntimeError("store failed halfway")
        row = real(session, **kwargs)
        stored.append(row.id)
        return row

    monkeypatch.setattr(report_service, "save_report", save)
    return stored


def test_a_weekly_report_failing_after_its_store_step_leaves_no_report(
        world: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = _state(world.url)
    stored = _count_saves(monkeypatch)

    def fail_to_write(*_args: Any) -> list[Path]:
        raise OSError("no space left on device")

    monkeypatch.setattr(report_service, "_write", fail_to_write)
    with pytest.raises(OSError, match="no space"):
        world("report", "weekly", "--now", NOW.isoformat(), "--out", str(tmp_path / "out"))
    assert len(stored) == 4, "the org and the three teams' reports were stored in the session"
    assert _state(world.url) == before


def test_a_weekly_report_job_failing_halfway_through_its_store_step_leaves_no_report(
        world: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(world.url)
    stored = _count_saves(monkeypatch, fail_after=2)
    outcome = run_job_now(world.url, "weekly_report")
    assert (outcome.status, outcome.error) == ("failed", "RuntimeError: store failed halfway")
    assert len(stored) == 2
    assert _state(world.url) == before
