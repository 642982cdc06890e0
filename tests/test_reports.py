"""The weekly deprecation report: week boundaries, content per team, storage week to week,
rendering, and e-mail delivery against a real SMTP server (aiosmtpd on a loopback port)."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from ops_world import CATALOG, CONTACTS, PLANTED, analyze, findings, load_world
from sqlalchemy import select

from registry.reports import (
    SmtpSettings,
    deliver_weekly_report,
    generate_weekly_report,
    list_reports,
    render_html,
    render_markdown,
    week_of,
)
from registry.reports.build import CANDIDATE_KINDS
from registry.store import models as m
from registry.store.db import session_factory, session_scope

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_0800 = datetime(2026, 11, 16, 8, 0, tzinfo=BERLIN)


# -- weeks ------------------------------------------------------------------------------------


def test_week_boundary_is_monday_midnight_in_the_report_timezone() -> None:
    sunday_late = datetime(2026, 11, 15, 23, 59, tzinfo=BERLIN)
    monday_early = datetime(2026, 11, 16, 0, 30, tzinfo=BERLIN)  # still Sunday in UTC
    assert monday_early.astimezone(UTC).date() == date(2026, 11, 15)
    assert week_of(sunday_late, "Europe/Berlin").label == "2026-W46"
    assert week_of(monday_early, "Europe/Berlin").label == "2026-W47"
    assert week_of(monday_early, "UTC").label == "2026-W46"
    week = week_of(MONDAY_0800, "Europe/Berlin")
    assert week.start == date(2026, 11, 16)
    assert week.starts_at == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert week.ends_at - week.starts_at == timedelta(days=7)


def test_week_spanning_a_dst_change_is_167_hours() -> None:
    week = week_of(datetime(2026, 3, 25, 12, 0, tzinfo=UTC), "Europe/Berlin")  # DST: Mar 29
    assert week.starts_at == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert week.ends_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert [w.label for w in week.last(3)] == ["2026-W11", "2026-W12", "2026-W13"]


# -- content ----------------------------------------------------------------------------------


@pytest.fixture
def world(cli: Any, tmp_path: Path) -> Any:
    load_world(cli, tmp_path / "world", MONDAY_0800)
    analyze(cli, MONDAY_0800)
    return cli


def _generate(url: str, now: datetime, **kwargs: Any) -> Any:
    with session_scope(session_factory(url)) as session:
        return generate_weekly_report(session, now=now, timezone="Europe/Berlin", **kwargs)


def _contents(url: str, week_start: date) -> dict[str, dict[str, Any]]:
    with session_scope(session_factory(url)) as session:
        rows = session.scalars(select(m.WeeklyReport)
                               .where(m.WeeklyReport.week_start == week_start))
        return {row.team or "(org)": row.content for row in rows}


def test_candidates_are_listed_under_the_owning_team_with_their_action(world: Any) -> None:
    _generate(world.url, MONDAY_0800)
    reports = _contents(world.url, date(2026, 11, 16))
    assert set(reports) == {"(org)", "growth", "ads", "risk"}
    expected: dict[str, set[str]] = {}
    for f in findings(world):  # the reference: every open candidate finding, by owner
        if f["kind"] in CANDIDATE_KINDS:
            expected.setdefault(f["owner"], set()).add(f["subject"]["name"])
    for team, planted in PLANTED.items():
        listed = {c["feature"] for c in reports[team]["candidates"]}
        assert listed == expected.get(team, set()) == set(planted)
        assert {c["feature"]: c["kind"] for c in reports[team]["candidates"]} == planted
    by_feature = {c["feature"]: c for c in reports["growth"]["candidates"]}
    assert by_feature["clicks_7d_copy"]["action"] == "merge"
    assert by_feature["clicks_7d_copy"]["keep"] == "clicks_7d"
    assert "--replacement clicks_7d" in by_feature["clicks_7d_copy"]["command"]
    assert by_feature["old_signal"]["action"] == "deprecate"
    assert "never read" in by_feature["old_signal"]["evidence"][0]["summary"]
    ads = {c["feature"]: c for c in reports["ads"]["candidates"]}
    assert ads["ad_b1"]["action"] == "drop_from_bundle" and ads["ad_b1"]["bundle"] == "ads-launch"
    assert reports["growth"]["contact"] == CONTACTS["growth"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_undeclared_reads_and_feedback_loops_go_to_the_teams_involved(world: Any) -> None:
    _generate(world.url, MONDAY_0800)
    reports = _contents(world.url, date(2026, 11, 16))
    growth, ads, risk = reports["growth"], reports["ads"], reports["risk"]
    assert [(r["consumer"], r["feature"], r["registered"])
            for r in growth["undeclared"]["of_our_features"]] == [("rogue_job", "clicks_7d", False)]
    assert [r["consumer"] for r in growth["undeclared"]["by_our_consumers"]] == ["growth_dash"]
    assert [(r["consumer"], r["team"]) for r in ads["undeclared"]["of_our_features"]] == [
        ("growth_dash", "growth")]
    assert ads["undeclared"]["by_our_consumers"] == []
    loop_nodes = {n["name"] for n in growth["feedback_loops"][0]["cycle"]}
    assert loop_nodes == {"ctr_model", "ctr_model.scores", "score_feedback"}
    assert len(ads["feedback_loops"]) == 1 and risk["feedback_loops"] == []
    assert [f["subject"]["name"] for f in reports["(org)"]["unowned"]] == ["rogue_job"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_org_summary_ranks_teams_by_debt_and_lists_top_actions(world: Any) -> None:
    _generate(world.url, MONDAY_0800)
    org = _contents(world.url, date(2026, 11, 16))["(org)"]
    scores = [(r["team"], r["debt_score"]) for r in org["ranking"]]
    assert [s for _, s in scores] == sorted((s for _, s in scores), reverse=True)
    weights = {"critical": 5, "warning": 2, "info": 1}
    by_team: dict[str, int] = {}
    for f in findings(world):
        if f["owner"] and f["status"] in ("open", "acknowledged"):
            by_team[f["owner"]] = by_team.get(f["owner"], 0) + weights[f["severity"]]
    assert dict(scores) == {team: by_team.get(team, 0) for team in CONTACTS}
    actions = [a["subject"]["name"] for a in org["top_actions"]]
    assert set(actions) == {f for planted in PLANTED.values() for f in planted}
    keys = [(-a["payoff"]["per_feature"], -a["payoff"]["upstream_removed"])
            for a in org["top_actions"]]
    assert keys == sorted(keys)


def test_reports_are_stored_once_per_team_and_week_and_compared_week_to_week(
        world: Any, tmp_path: Path) -> None:
    first = _generate(world.url, MONDAY_0800)
    again = _generate(world.url, MONDAY_0800 + timedelta(hours=2))
    assert {r.team: r.id for r in again.teams} == {r.team: r.id for r in first.teams}
    with session_scope(session_factory(world.url)) as session:
        assert len(list_reports(session)) == 4
    # during the week: old_signal is deleted (apply --prune), tiny_gain deprecated
    pruned = tmp_path / "pruned.yaml"
    pruned.write_text(re.sub(r"  - \{name: (old_signal|ctr_model),.*?\}\n", "", CATALOG,
                             flags=re.S), encoding="utf-8")  # late.yaml declares ctr_model
    with time_machine.travel(MONDAY_0800 + timedelta(days=3), tick=False):
        for args in (("apply", "--prune", str(pruned), str(tmp_path / "world" / "late.yaml")),
                     ("deprecate", "tiny_gain", "--sunset", "2026-12-31", "--reason", "tiny")):
            result = world(*args)
            assert result.exit_code == 0, result.output
    next_monday = MONDAY_0800 + timedelta(days=7)
    analyze(world, next_monday)
    _generate(world.url, next_monday)
    previous = _contents(world.url, date(2026, 11, 16))["growth"]
    growth = _contents(world.url, date(2026, 11, 23))["growth"]
    assert growth["period"]["since"] == previous["generated_at"]
    assert [w["source"] for w in growth["trend"]][-2:] == ["report", "current"]
    assert growth["trend"][-2]["open_by_kind"] == previous["totals"]["open_by_kind"]
    assert growth["trend"][-1]["open_by_kind"] == growth["totals"]["open_by_kind"]
    assert growth["change_by_kind"]["legacy"] == -1
    changes = growth["changes"]
    assert ("legacy", "old_signal") in {(f["kind"], f["subject"]["name"])
                                        for f in changes["resolved_findings"]}
    assert [(e["feature"], e["change"], e["actor"]) for e in changes["lifecycle"]] == [
        ("tiny_gain", "deprecated", "tester")]
    deprecated = growth["deprecated"]
    assert [d["feature"] for d in deprecated] == ["tiny_gain"]
    assert [c["team"] for c in deprecated[0]["contacts"]] == ["ads"]
    assert [r["consumer"] for r in deprecated[0]["readers"]] == ["ctr_model"]
    assert "tiny_gain" not in {c["feature"] for c in growth["candidates"]}


# -- rendering --------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_html_is_self_contained_with_inline_figures_and_markdown_keeps_section_order(
        world: Any, tmp_path: Path) -> None:
    result = _generate(world.url, MONDAY_0800, out_dir=tmp_path / "out")
    folder = tmp_path / "out" / "2026-W47"
    assert sorted(p.relative_to(folder).as_posix() for p in result.files) == sorted(
        [f"index.{ext}" for ext in ("html", "md", "json")]
        + [f"teams/{t}.{ext}" for t in CONTACTS for ext in ("html", "md", "json")])
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Teams ranked by open debt" in html
    external = re.findall(r'(?:src|href)="(?!#|mailto:)([^"]+)"', html)
    assert external == []
    growth_md = (folder / "teams" / "growth.md").read_text(encoding="utf-8")
    headings = re.findall(r"^### (\d)\. ", growth_md, flags=re.M)
    assert headings == ["1", "2", "3", "4", "5", "6", "7"]  # 5: data health
    assert "`clicks_7d_copy` → **merge into clicks_7d" in growth_md
    stored = json.loads((folder / "teams" / "growth.json").read_text(encoding="utf-8"))
    assert render_markdown(stored) == growth_md
    assert render_html(stored) == (folder / "teams" / "growth.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_report_weekly_command_writes_the_week_of_now_for_one_team(
        world: Any, tmp_path: Path) -> None:
    sunday = datetime(2026, 11, 15, 23, 59, tzinfo=BERLIN)
    result = world("report", "weekly", "--now", sunday.isoformat(), "--team", "ads",
                   "--timezone", "Europe/Berlin", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "2026-W46" / "teams" / "ads.md").is_file()
    listed = world("reports", "--format", "json")
    rows = json.loads(listed.output)
    assert [(r["week"], r["scope"], r["team"]) for r in rows] == [("2026-W46", "team", "ads")]
    shown = world("reports", "show", str(rows[0]["id"]))
    assert "## Team ads — 2026-W46" in shown.output
    bad = world("report", "weekly", "--team", "nobody", "--out", str(tmp_path))
    assert bad.exit_code == 1 and "no team named 'nobody'" in bad.output


# -- delivery ---------------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler that refuses the first ``failures`` messages with 451."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.failures > 0:
            self.failures -= 1
            return "451 try again later"
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Any:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_each_team_gets_its_report_as_multipart_mail(world: Any, smtp_server: Any) -> None:
    controller, mailbox = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, sender="featreg@example.com",
                        backoff=0)
    sessions = session_factory(world.url)
    result = _generate(world.url, MONDAY_0800)
    with session_scope(sessions) as session:
        outcomes = deliver_weekly_report(session, result, smtp)
    assert sorted((o.recipient, o.status, o.attempts) for o in outcomes) == sorted(
        (c, "sent", 1) for c in CONTACTS.values())
    assert sorted(rcpt for rcpts, _ in mailbox.received for rcpt in rcpts) == sorted(
        CONTACTS.values())
    message = next(msg for rcpts, msg in mailbox.received if rcpts == ["growth@example.com"])
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in message.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "clicks_7d_copy" in parts["text/plain"] and "<svg" in parts["text/html"]
    assert "2026-W47 growth: 3 to delete" in message["Subject"]
    with session_scope(sessions) as session:
        again = deliver_weekly_report(session, result, smtp)  # already sent: not sent twice
    assert all(o.status == "sent" for o in again) and len(mailbox.received) == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_failed_delivery_is_retried_and_recorded_and_the_report_kept(
        world: Any, smtp_server: Any) -> None:
    controller, mailbox = smtp_server
    mailbox.failures = 2
    waits: list[float] = []
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, attempts=3, backoff=0.5)
    sessions = session_factory(world.url)
    result = _generate(world.url, MONDAY_0800, team="growth")
    from registry.reports.delivery import deliver

    report = result.teams[0]
    with session_scope(sessions) as session:
        outcome = deliver(session, smtp, report_id=report.id, recipient="growth@example.com",
                          subject=report.subject, text=report.markdown, html=report.html,
                          sleep=waits.append)
    assert (outcome.status, outcome.attempts, waits) == ("sent", 3, [0.5, 1.0])
    dead = SmtpSettings(host="127.0.0.1", port=_free_port(), attempts=2, backoff=0)
    with session_scope(sessions) as session:
        failed = deliver(session, dead, report_id=report.id, recipient="other@example.com",
                         subject="s", text="t", html="<p>h</p>", sleep=waits.append)
    assert failed.status == "failed" and failed.attempts == 2 and failed.error
    with session_scope(sessions) as session:
        rows = {d.recipient: (d.status, d.attempts, d.last_error is None)
                for d in session.scalars(select(m.ReportDelivery))}
        assert session.get(m.WeeklyReport, report.id) is not None
    assert rows == {"growth@example.com": ("sent", 3, True),
                    "other@example.com": ("failed", 2, False)}


def test_smtp_settings_come_from_the_environment() -> None:
    assert SmtpSettings.from_env({}) is None
    smtp = SmtpSettings.from_env({"FEATREG_SMTP_HOST": "mail", "FEATREG_SMTP_STARTTLS": "yes",
                                  "FEATREG_SMTP_USER": "u", "FEATREG_SMTP_FROM": "f@x.org"})
    assert smtp is not None and (smtp.port, smtp.starttls, smtp.sender) == (587, True, "f@x.org")
    documented = {row.env for row in SmtpSettings.documentation()}
    used: set[str] = set()

    class Environment(dict[str, str]):  # records every variable read
        def get(self, key: str, default: Any = None) -> Any:
            used.add(key)
            return super().get(key, default)

    SmtpSettings.from_env(Environment(FEATREG_SMTP_HOST="mail"))
    assert used == documented
