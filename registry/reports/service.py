"""Generate, store, write and deliver the weekly report (the service jobs and CLI call).

Both steps work in the caller's unit of work and never commit: the entry point commits the
stored report before it opens a second unit for the e-mails, so no mail goes out for a report
that is not stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry.core.errors import NotFound
from registry.reports.build import build_team_report
from registry.reports.collect import load_report_input
from registry.reports.delivery import DeliveryResult, Mail, SmtpSettings, deliver_all
from registry.reports.org import build_org_report
from registry.reports.render import render_html, render_json, render_markdown
from registry.reports.store import save_report
from registry.reports.week import ReportWeek, week_of

__all__ = ["StoredReport", "WeeklyReportResult", "deliver_weekly_report",
           "generate_weekly_report"]


@dataclass(frozen=True)
class StoredReport:
    id: int
    team: str | None
    contact: str | None
    subject: str
    markdown: str
    html: str


@dataclass
class WeeklyReportResult:
    week: ReportWeek
    generated_at: datetime
    org: StoredReport | None
    teams: list[StoredReport]
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week.label, "week_start": self.week.start.isoformat(),
                "timezone": self.week.timezone, "generated_at": self.generated_at.isoformat(),
                "org_report": self.org.id if self.org else None,
                "team_reports": {r.team: r.id for r in self.teams},
                "files": [str(p) for p in self.files]}


def _subject(content: dict[str, Any]) -> str:
    if content["kind"] == "org":
        return f"[featreg] weekly deprecation report {content['week']}"
    in_use = sum(1 for d in content["deprecated"] if d["readers"])
    return (f"[featreg] {content['week']} {content['team']}: {len(content['candidates'])} "
            f"to delete, {in_use} deprecated still read, "
            f"{content['totals']['open']} open findings")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


def _write(folder: Path, stem: str, content: dict[str, Any], markdown: str, html: str
           ) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in ((".html", html), (".md", markdown), (".json", render_json(content))):
        path = folder / f"{stem}{suffix}"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def generate_weekly_report(
    session: Session, *, now: datetime | None = None, timezone: Any = "UTC",
    team: str | None = None, out_dir: str | Path | None = None,
) -> WeeklyReportResult:
    """Build the report of the week containing ``now`` (in ``timezone``) for every team and
    the org (or only ``team``), store it (replacing that week's earlier version), and write
    HTML, Markdown and JSON under ``out_dir/<week>/`` when given."""
    now = now or datetime.now(UTC)
    week = week_of(now, str(timezone))
    inp = load_report_input(session, now=now, week=week)
    if team is not None and team not in inp.state.teams:
        raise NotFound(f"no team named {team!r}")
    names = [team] if team is not None else sorted(inp.state.teams)
    contents = [build_team_report(inp, name) for name in names]
    documents: list[tuple[str | None, dict[str, Any]]] = [(c["team"], c) for c in contents]
    if team is None:
        documents.insert(0, (None, build_org_report(inp, contents)))
    rendered = [(name, content, render_markdown(content), render_html(content))
                for name, content in documents]
    stored: list[StoredReport] = []
    for name, content, markdown, html in rendered:
        row = save_report(session, week=week, team=name, content=content, markdown=markdown,
                          html=html, generated_at=now, period_start=inp.since)
        contact = inp.contact_of(name) if name else None
        stored.append(StoredReport(row.id, name, contact, _subject(content), markdown, html))
    result = WeeklyReportResult(week, now, next((s for s in stored if s.team is None), None),
                                [s for s in stored if s.team is not None])
    if out_dir is not None:
        folder = Path(out_dir) / week.label
        for name, content, markdown, html in rendered:
            if name is None:
                result.files += _write(folder, "index", content, markdown, html)
            else:
                result.files += _write(folder / "teams", _safe_name(name), content, markdown,
                                       html)
    return result


def deliver_weekly_report(session: Session, result: WeeklyReportResult,
                          smtp: SmtpSettings) -> list[DeliveryResult]:
    """E-mail each team's report to its contact address(es); teams without one are skipped.
    The reports must be committed already (see the module docstring)."""
    mails = [Mail(report.id, address, report.subject, report.markdown, report.html)
             for report in result.teams
             for _, address in getaddresses([report.contact or ""]) if address]
    return deliver_all(session, smtp, mails)
