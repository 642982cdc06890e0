"""Jinja filters: sanitised Markdown, dates, numbers, and links to catalog objects."""

from __future__ import annotations

import html
import re
import threading
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import markdown as markdown_lib
import nh3
from flask import Flask, request, url_for
from markupsafe import Markup

from registry.core.timeparse import InvalidTime, parse_time

MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]
SUMMARY_LIMIT = 160  # characters of a one-line summary's text
URL_SCHEMES = {"http", "https", "mailto"}


_converters = threading.local()


def _markdown_html(text: str) -> str:
    """Markdown to (unsanitised) HTML with this thread's converter (building a converter per
    call costs three times the conversion; converters are not thread-safe)."""
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        converter = _converters.markdown = markdown_lib.Markdown(
            extensions=MARKDOWN_EXTENSIONS, output_format="html")
    html: str = converter.reset().convert(text or "")
    return html


@lru_cache(maxsize=2048)
def render_markdown(text: str) -> Markup:
    """Markdown to HTML, then sanitised by nh3 (scripts, event handlers, javascript: URLs and
    raw HTML that is not plain formatting are removed)."""
    return Markup(nh3.clean(_markdown_html(text), url_schemes=URL_SCHEMES,
                            link_rel="noopener noreferrer nofollow"))


# A line that Markdown leaves as it is: starts with a letter or digit (no list, quote or code
# marker), holds no character Markdown or HTML gives a meaning to, and underscores only inside
# words (which Markdown does not read as emphasis). Most summaries are such lines; a test
# holds this shortcut to the full conversion.
_PLAIN_LINE = re.compile(r"(?!\d+\.(\s|$))[A-Za-z0-9]([A-Za-z0-9 ,.;:'\"?()/%+=-]"
                         r"|(?<=[A-Za-z0-9])_(?=[A-Za-z0-9]))*")


@lru_cache(maxsize=4096)
def plain_text(text: str, limit: int = SUMMARY_LIMIT) -> Markup:
    """Markdown reduced to its text (for one-line summaries), shortened to `limit` characters
    after the conversion (so a cut never leaves half a link showing): no tags, entities
    escaped."""
    if _PLAIN_LINE.fullmatch(text):
        plain = text  # what the conversion below gives, in a thousandth of its time
        if len(plain) <= limit:
            return Markup(plain)
    else:
        cleaned = nh3.clean(_markdown_html(text), tags=set()).strip()
        plain = html.unescape(cleaned)
        if len(plain) <= limit:
            return Markup(cleaned)
    return Markup.escape(plain[:limit - 1].rstrip() + "…")


def format_time(value: str | datetime | None, with_time: bool = True) -> str:
    """'2026-03-01 12:00 UTC' from an ISO string or datetime ('' for None)."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else _parse(value)
    if moment is None:
        return str(value)
    if not with_time or (isinstance(value, str) and "T" not in value):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _parse(value: str) -> datetime | None:
    try:
        return parse_time(value, assume_utc=True)
    except InvalidTime:
        return None


def format_number(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def format_percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if value >= 0.001 else f"{value * 100:.2g}%"


OBJECT_PATHS = {"feature": "/features/", "source": "/sources/", "consumer": "/consumers/",
                "team": "/teams/", "finding": "/findings/"}


def object_url(kind: str, name: str | int) -> str:
    """The page of a catalog object ("feature", "source", "consumer", "team", "finding").

    Built directly rather than with url_for (pages link hundreds of objects); the routes in
    views_* must match OBJECT_PATHS (a test checks they do). Consumers may be observed
    principals whose names contain "/" (their route takes a path).
    """
    prefix = OBJECT_PATHS.get(kind)
    if prefix is None:
        return "#"
    safe = "/" if kind == "consumer" else ""
    return f"{request.script_root}{prefix}{quote(str(name), safe=safe)}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(markdown=render_markdown, plain=plain_text, when=format_time,
                                 num=format_number, pct=format_percent)
    app.jinja_env.globals.update(object_url=object_url, url_with=url_with)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None or "" removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    if request.endpoint is None:
        return quote(request.path) + ("?" + urlencode(args, doseq=True) if args else "")
    values: dict[str, Any] = {**(request.view_args or {}), **args}
    return url_for(request.endpoint, **values)
