"""A finding's evidence in words, for `featreg explain` and the UI."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value) if value else "none"
    return "—" if value is None else str(value)


def explain_finding(f: dict[str, Any]) -> list[str]:
    """Lines of text: what, why (the one-line summary), then every piece of evidence."""
    subject = f"{f['subject']['type']} {f['subject']['name']}"
    lines = [f"#{f['id']} {f['kind']} — {subject} ({f['severity']}, {f['status']})",
             f"{f['summary']}."]
    if f["related"]:
        lines.append("related: " + ", ".join(f"{r['type']} {r['name']}" for r in f["related"]))
    lines.append(f"first seen {f['first_seen'][:10]}, last seen {f['last_seen'][:10]}")
    if f.get("status_reason"):
        lines.append(f"status reason: {f['status_reason']}")
    lines.append("evidence:")
    for key, value in f["evidence"].items():
        lines.append(f"  {key.replace('_', ' ')}: {_fmt(value)}")
    return lines
