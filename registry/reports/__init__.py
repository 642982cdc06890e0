"""The weekly deprecation report: build (pure, from plain values), render (Markdown, HTML,
JSON), store (``weekly_reports``), deliver (SMTP, ``report_deliveries``).

Modules: `week` (report weeks in a timezone), `collect` (database → `ReportInput`), `build`
(team sections), `org` (org summary), `graphs` (deletion payoff, graph snippets), `charts`
(inline SVG), `render` (Jinja templates in ``templates/``), `store`, `delivery`, `service`.
"""

from registry.reports.delivery import DeliveryResult, SmtpSettings
from registry.reports.render import render_html, render_json, render_markdown
from registry.reports.service import (
    StoredReport,
    WeeklyReportResult,
    deliver_weekly_report,
    generate_weekly_report,
)
from registry.reports.store import get_report, list_reports, report_summary
from registry.reports.week import ReportWeek, week_of

__all__ = [
    "DeliveryResult",
    "ReportWeek",
    "SmtpSettings",
    "StoredReport",
    "WeeklyReportResult",
    "deliver_weekly_report",
    "generate_weekly_report",
    "get_report",
    "list_reports",
    "render_html",
    "render_json",
    "render_markdown",
    "report_summary",
    "week_of",
]
