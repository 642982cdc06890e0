"""The scheduler: schedules and timezones, leases, exactly-once executions, missed runs, and
two real `featreg scheduler` processes against one PostgreSQL database (one killed -9)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import Cli
from ops_world import load_world
from sqlalchemy import select

from registry.core.settings import SettingsError
from registry.ops.jobs import JOBS, JobContext, JobDefinition, execute_job
from registry.ops.leases import acquire_lease, release_lease, renew_lease
from registry.ops.scheduler import SchedulerSettings, parse_schedule, start_background_scheduler
from registry.store import models as m
from registry.store.db import dispose_engine, session_factory, session_scope

BERLIN = ZoneInfo("Europe/Berlin")
ALL_OFF = {name: "off" for name in JOBS}
FEATREG = str(Path(sys.executable).parent / "featreg")


# -- schedules --------------------------------------------------------------------------------


@pytest.mark.parametrize(("after", "expected_utc"), [
    (datetime(2026, 11, 15, 23, 59, tzinfo=BERLIN), datetime(2026, 11, 16, 7, 0, tzinfo=UTC)),
    (datetime(2026, 11, 16, 8, 0, 1, tzinfo=BERLIN), datetime(2026, 11, 23, 7, 0, tzinfo=UTC)),
    (datetime(2026, 7, 5, 23, 59, tzinfo=BERLIN), datetime(2026, 7, 6, 6, 0, tzinfo=UTC)),
])
def test_weekly_report_fires_monday_0800_in_the_configured_timezone(
        after: datetime, expected_utc: datetime) -> None:
    settings = SchedulerSettings.from_env({"FEATREG_REPORT_TIMEZONE": "Europe/Berlin"})
    trigger = settings.triggers()["weekly_report"]
    assert trigger.get_next_fire_time(None, after) == expected_utc


def test_schedules_come_from_the_environment_and_bad_ones_are_named() -> None:
    settings = SchedulerSettings.from_env({"FEATREG_SCHEDULE_ANALYSIS": "*/2 * * * * *",
                                           "FEATREG_SCHEDULE_ROLLUPS": "off"})
    assert "rollups" not in settings.triggers()
    start = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert settings.triggers()["analysis"].get_next_fire_time(None, start) == start + timedelta(
        seconds=1)
    defaults = SchedulerSettings()
    first = {name: trigger.get_next_fire_time(None, datetime(2026, 11, 16, 0, 1, tzinfo=UTC))
             for name, trigger in defaults.triggers().items()}
    assert first == {"rollups": datetime(2026, 11, 16, 1, 0, tzinfo=UTC),
                     "snapshots": datetime(2026, 11, 16, 0, 15, tzinfo=UTC),
                     "analysis": datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
                     "freshness": datetime(2026, 11, 16, 0, 20, tzinfo=UTC),
                     "weekly_report": datetime(2026, 11, 16, 8, 0, tzinfo=UTC),
                     "sunset": datetime(2026, 11, 16, 0, 30, tzinfo=UTC)}
    for variable, value, message in [
        ("FEATREG_SCHEDULE_SUNSET", "0 8 * * 1", "day-of-week as names"),
        ("FEATREG_SCHEDULE_SUNSET", "0 8 *", "has 3 fields"),
        ("FEATREG_SCHEDULE_SUNSET", "99 * * * *", "FEATREG_SCHEDULE_SUNSET"),
        ("FEATREG_REPORT_TIMEZONE", "Mars/Olympus", "not an IANA timezone"),
        ("FEATREG_SCHEDULER_LEASE_TTL", "soon", "not a number"),
    ]:
        with pytest.raises(SettingsError, match=message):
            SchedulerSettings.from_env({variable: value})
    assert parse_schedule("off", BERLIN) is None


def test_every_setting_the_scheduler_reads_is_documented() -> None:
    documented = {row.env for row in SchedulerSettings.documentation()}
    root = Path(__file__).resolve().parent.parent
    source = (root / "registry" / "ops" / "scheduler.py").read_text()
    read = set(re.findall(r'"(FEATREG_[A-Z_]+)"', source))
    assert read - {"FEATREG_SCHEDULE_"} <= documented
    assert {SchedulerSettings.env_name(job) for job in JOBS} <= documented


# -- leases and executions --------------------------------------------------------------------


def test_a_lease_is_exclusive_until_it_expires(db_url: str) -> None:
    sessions = session_factory(db_url)
    t0 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
    assert acquire_lease(sessions, "job:x", "a", ttl=10, now=t0).acquired
    held = acquire_lease(sessions, "job:x", "b", ttl=10, now=t0 + timedelta(seconds=9))
    assert (held.acquired, held.holder) == (False, "a")
    assert acquire_lease(sessions, "job:x", "a", ttl=10, now=t0 + timedelta(seconds=9)).acquired
    taken = acquire_lease(sessions, "job:x", "b", ttl=10, now=t0 + timedelta(seconds=20))
    assert (taken.acquired, taken.previous_holder) == (True, "a")
    assert not renew_lease(sessions, "job:x", "a", ttl=10)
    assert not release_lease(sessions, "job:x", "a")
    assert release_lease(sessions, "job:x", "b")
    assert acquire_lease(sessions, "job:x", "c", ttl=10).acquired


@pytest.mark.postgres
def test_concurrent_takers_of_a_lease_get_exactly_one_winner(pg_url: str) -> None:
    sessions = session_factory(pg_url)
    barrier = threading.Barrier(6)
    won: list[str] = []

    def take(holder: str) -> None:
        barrier.wait()
        if acquire_lease(sessions, "job:race", holder, ttl=30).acquired:
            won.append(holder)

    threads = [threading.Thread(target=take, args=(f"h{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1


@pytest.fixture
def probe_job(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """A job that records when it ran (and fails when told to)."""
    calls: list[datetime] = []

    def body(ctx: JobContext, now: datetime) -> dict[str, Any]:
        if os.environ.get("PROBE_FAIL"):
            raise RuntimeError("probe failed on purpose")
        calls.append(now)
        return {"calls": len(calls)}

    monkeypatch.setitem(JOBS, "probe", JobDefinition("probe", "off", "test probe", body))
    yield calls


def test_each_fire_time_runs_once_and_is_recorded(db_url: str, probe_job: list[datetime],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fire = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    first = JobContext(url=db_url, holder="one", lease_ttl=30)
    second = JobContext(url=db_url, holder="two", lease_ttl=30)
    outcome = execute_job(first, "probe", scheduled_for=fire)
    assert outcome is not None and outcome.status == "succeeded"
    assert execute_job(second, "probe", scheduled_for=fire) is None
    monkeypatch.setenv("PROBE_FAIL", "1")
    failed = execute_job(second, "probe", scheduled_for=fire + timedelta(days=1))
    assert failed is not None and failed.status == "failed"
    assert failed.error == "RuntimeError: probe failed on purpose"
    assert len(probe_job) == 1
    with session_scope(session_factory(db_url)) as session:
        runs = [(r.holder, r.status, r.summary) for r in
                session.scalars(select(m.JobRun).order_by(m.JobRun.scheduled_for))]
        assert session.scalars(select(m.Lease)).all() == []
    assert runs == [("one", "succeeded", {"calls": 1}), ("two", "failed", None)]


def test_a_held_lease_skips_and_an_expired_one_is_taken_over(
        sqlite_url: str, probe_job: list[datetime]) -> None:
    sessions = session_factory(sqlite_url)
    start = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        dead = JobContext(url=sqlite_url, holder="dead", lease_ttl=60)
        with session_scope(sessions) as session:  # "dead" claimed a run, then was killed
            session.add(m.JobRun(job="probe", scheduled_for=start, trigger="schedule",
                                 status="running", started_at=start, holder="dead", host="h",
                                 pid=1))
        assert acquire_lease(sessions, "job:probe", dead.holder, ttl=60).acquired
        live = JobContext(url=sqlite_url, holder="live", lease_ttl=60)
        skipped = execute_job(live, "probe", scheduled_for=start + timedelta(seconds=30))
    assert skipped is not None and skipped.status == "skipped" and "dead" in str(skipped.error)
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        taken = execute_job(live, "probe", scheduled_for=start + timedelta(seconds=60))
    assert taken is not None and taken.status == "succeeded" and len(probe_job) == 1
    with session_scope(sessions) as session:
        states = {r.holder + "/" + r.status: r.error for r in session.scalars(select(m.JobRun))}
    assert set(states) == {"dead/abandoned", "live/skipped", "live/succeeded"}
    assert states["dead/abandoned"] == "dead stopped renewing its lease; live took over"


def test_jobs_run_command_runs_now_and_jobs_lists_it(cli: Cli) -> None:
    result = cli("jobs", "run", "sunset")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "succeeded"
    listed = json.loads(cli("jobs", "--format", "json").output)
    assert [(r["job"], r["trigger"], r["status"]) for r in listed["runs"]] == [
        ("sunset", "manual", "succeeded")]
    assert {j["job"] for j in listed["jobs"]} == set(JOBS)
    assert cli("jobs").exit_code == 0
    sessions = session_factory(cli.url)
    assert acquire_lease(sessions, "job:sunset", "elsewhere", ttl=600).acquired
    busy = cli("jobs", "run", "sunset")
    assert busy.exit_code == 1 and "lease held by elsewhere" in busy.output


# -- the scheduler in-process: missed runs ----------------------------------------------------


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _runs(url: str, job: str | None = None) -> list[m.JobRun]:
    with session_scope(session_factory(url)) as session:
        query = select(m.JobRun).order_by(m.JobRun.scheduled_for, m.JobRun.id)
        if job:
            query = query.where(m.JobRun.job == job)
        return list(session.scalars(query))


def test_missed_runs_are_coalesced_into_one_run_on_start(sqlite_url: str) -> None:
    settings = SchedulerSettings(schedules={**ALL_OFF, "sunset": "30 0 * * *",
                                            "weekly_report": "0 8 * * mon"},
                                 timezone="Europe/Berlin")
    with time_machine.travel(datetime(2026, 11, 15, 12, 0, tzinfo=BERLIN), tick=True):
        start_background_scheduler(sqlite_url, settings).shutdown()
    assert _runs(sqlite_url) == []
    # every instance was down from Sunday noon to Wednesday 10:00: weekly report missed once,
    # sunset missed three times; each runs once, for its latest missed fire time
    with time_machine.travel(datetime(2026, 11, 18, 10, 0, tzinfo=BERLIN), tick=True):
        scheduler = start_background_scheduler(sqlite_url, settings)
        try:
            _wait_for(lambda: sum(r.status == "succeeded" for r in _runs(sqlite_url)) == 2,
                      20, "two coalesced runs")
            time.sleep(0.5)
        finally:
            scheduler.shutdown()
    runs = {r.job: r.scheduled_for.astimezone(BERLIN) for r in _runs(sqlite_url)}
    assert runs == {"weekly_report": datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN),
                    "sunset": datetime(2026, 11, 18, 0, 30, tzinfo=BERLIN)}
    with session_scope(session_factory(sqlite_url)) as session:
        weeks = {(r.week_start.isoformat(), r.scope) for r in session.scalars(
            select(m.WeeklyReport))}
    assert weeks == {("2026-11-16", "org")}


# -- real processes ---------------------------------------------------------------------------


def _scheduler_process(url: str, log: Path, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FEATREG_DATABASE_URL": url, "FEATREG_REPORT_TIMEZONE": "UTC",
           **{SchedulerSettings.env_name(job): "off" for job in JOBS}, **extra}
    with open(log, "wb") as handle:
        return subprocess.Popen([FEATREG, "scheduler"], env=env, stdout=handle,
                                stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.postgres
def test_two_schedulers_run_each_execution_once_and_survive_a_kill(
        pg_url: str, tmp_path: Path) -> None:
    load_world(Cli(pg_url), tmp_path / "world", datetime.now(UTC))
    dispose_engine(pg_url)
    ttl = 1.5
    extra = {"FEATREG_SCHEDULE_SUNSET": "* * * * * *",       # every second: exactly once
             "FEATREG_SCHEDULE_ANALYSIS": "*/2 * * * * *",   # slow: killed in the middle
             "FEATREG_TEST_JOB_SLEEP": "0.6", "FEATREG_SCHEDULER_LEASE_TTL": str(ttl)}
    processes = [_scheduler_process(pg_url, tmp_path / f"scheduler{i}.log", extra)
                 for i in range(2)]
    try:
        _wait_for(lambda: any(r.status == "running" for r in _runs(pg_url, "analysis")), 60,
                  "an analysis to start")
        victim_run = next(r for r in _runs(pg_url, "analysis") if r.status == "running")
        victim = next(p for p in processes if p.pid == victim_run.pid)
        survivor = next(p for p in processes if p is not victim)
        time.sleep(0.4)  # deep inside the analysis (it pauses 0.6 s at each step)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = datetime.now(UTC)
        _wait_for(lambda: any(r.status == "succeeded" and r.pid == survivor.pid
                              and r.started_at is not None and r.started_at > killed_at
                              for r in _runs(pg_url, "analysis")), 60, "the takeover")
    finally:
        for process in processes:
            _stop(process)
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("scheduler*.log")))

    sunset = [r.scheduled_for for r in _runs(pg_url, "sunset")]
    assert max(Counter(sunset).values()) == 1, logs
    seconds = [int(t.timestamp()) for t in sunset]
    assert seconds == list(range(seconds[0], seconds[-1] + 1)), logs  # no fire time lost
    assert {r.pid for r in _runs(pg_url, "sunset")} <= {victim.pid, survivor.pid}

    analysis = _runs(pg_url, "analysis")
    killed = next(r for r in analysis if r.id == victim_run.id)
    assert killed.status == "abandoned" and _holder_of(analysis, survivor.pid) in str(
        killed.error)
    takeover = min((r for r in analysis if r.status == "succeeded" and r.pid == survivor.pid
                    and r.started_at > killed_at), key=lambda r: r.started_at)
    assert takeover.started_at >= killed_at + timedelta(seconds=ttl * 2 / 3 - 0.2)
    done = sorted((r.started_at, r.finished_at) for r in analysis if r.status == "succeeded")
    assert all(a[1] <= b[0] for a, b in zip(done, done[1:], strict=False))  # never overlapping
    _assert_findings_consistent(pg_url, succeeded=len(done))


def _holder_of(runs: list[m.JobRun], pid: int) -> str:
    return next(r.holder for r in runs if r.pid == pid)


def _assert_findings_consistent(url: str, *, succeeded: int) -> None:
    with session_scope(session_factory(url)) as session:
        runs = list(session.scalars(select(m.AnalysisRun).order_by(m.AnalysisRun.id)))
        assert len(runs) == succeeded and all(r.finished_at is not None for r in runs)
        active = list(session.scalars(select(m.Finding).where(m.Finding.status != "resolved")))
        latest = runs[-1]
        assert {f.last_run_id for f in active} == {latest.id}
        counts = latest.summary["findings"]  # type: ignore[index]
        expected = sum(c["new"] + c["still_open"] for c in counts.values())
        assert len(active) == expected > 0
