"""Render report content (the JSON dicts of `build` / `org`) as Markdown, HTML and JSON.

Templates live in ``registry/reports/templates``; HTML is autoescaped and self-contained
(inline CSS and SVG, no external resources). Rendering is a pure function of the content, so
a stored report can be rendered again.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from registry.core.timeparse import parse_time
from registry.reports.collect import USAGE_DAYS

__all__ = ["render_html", "render_json", "render_markdown"]


def _code(value: object) -> str:
    """A name as Markdown inline code."""
    text = str(value).replace("`", "'")
    return f"`{text}`"


def _md(value: object) -> str:
    """Plain text made safe inside Markdown lists and table cells."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _local(value: str | None, timezone: str) -> str:
    if not value:
        return "never"
    moment = parse_time(value, assume_utc=True)
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _trend_kinds(trend: list[dict[str, Any]]) -> list[str]:
    return sorted({kind for row in trend for kind in row["open_by_kind"]})


@lru_cache(maxsize=512)
def _svg_for(kind: str, key: str) -> str | None:
    """Charts and graphs by content: the org page reuses every team page's figures."""
    from registry.reports.charts import snippet_svg, trend_svg, usage_svg  # loads matplotlib

    data = json.loads(key)
    if kind == "graph":
        return snippet_svg(data)
    if kind == "usage":
        daily, generated_at = data
        end = parse_time(generated_at, assume_utc=True).date()
        return usage_svg(daily, end=end, days=USAGE_DAYS)
    return trend_svg(data)


def _figure(kind: str, data: object) -> Markup | None:
    svg = _svg_for(kind, json.dumps(data, sort_keys=True))
    return Markup(svg) if svg else None


def _graph_svg(snippet: dict[str, Any] | None) -> Markup | None:
    return _figure("graph", snippet) if snippet else None


def _usage_chart(daily: list[list[Any]], generated_at: str) -> Markup | None:
    return _figure("usage", [daily, generated_at])


def _trend_chart(trend: list[dict[str, Any]]) -> Markup | None:
    return _figure("trend", [{"week": row["week"], "open_by_kind": row["open_by_kind"]}
                             for row in trend])


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("registry.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(code=_code, md=_md, local=_local, trend_kinds=_trend_kinds,
                       graph_svg=_graph_svg, usage_chart=_usage_chart, trend_chart=_trend_chart)
    return env


def _template(content: dict[str, Any], extension: str) -> str:
    kind = content.get("kind")
    if kind not in ("org", "team"):
        raise ValueError(f"not report content: kind {kind!r}")
    return f"{kind}.{extension}.j2"


def render_markdown(content: dict[str, Any]) -> str:
    """Markdown for chat, tickets and the text part of e-mails."""
    text = _environment().get_template(_template(content, "md")).render(report=content)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


def render_html(content: dict[str, Any]) -> str:
    """A self-contained HTML page (inline styles, inline SVG graphs and charts)."""
    return _environment().get_template(_template(content, "html")).render(report=content)


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def render_json(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False, sort_keys=False,
                      default=_default) + "\n"
