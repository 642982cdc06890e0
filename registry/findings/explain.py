"""A finding's evidence in words, for `featreg explain` and the UI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value) if value else "none"
    return "—" if value is None else str(value)


def _names(rows: list[Any]) -> str:
    return ", ".join(str(r) for r in rows) if rows else "no consumer"


def _stale_source(f: dict[str, Any]) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    if e.get("never_updated"):
        told = f"`{name}` should be updated every {e['freshness']}, but no update was seen"
    else:
        told = (f"`{name}` was last updated {e['last_update'][:16].replace('T', ' ')} UTC; it "
                f"should be updated every {e['freshness']}")
    readers = _names(e.get("consumers", []))
    return (f"{told}. Check the job that writes it (a failed or stuck run is not an update), "
            f"or run `featreg source refreshed {name}` if it is written without OpenLineage. "
            f"Depending on it: {readers}.")


def _unready_dependency(f: dict[str, Any]) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    below = ", ".join(f"`{b['source']}` ({b['readiness']})" for b in e.get("below", []))
    return (f"`{name}` is a {e['stage']} consumer, which needs data readiness {e['needs']}, "
            f"but it depends on {below}. Raise their readiness once their errors, sampling "
            f"and missing values are understood (B) and they are shown fit for this task (A), "
            f"or move `{name}` back to an earlier stage.")


def _unstable_dependency(f: dict[str, Any]) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    parts = [str(c.get("words") or c.get("kind")) for c in e.get("changes", [])]
    when = f"between the snapshots of {e.get('previous_taken_at', '?')[:10]} and " \
           f"{e.get('latest_taken_at', '?')[:10]}"
    readers = ", ".join(f"`{c['name']}` ({c['stage']})" if c.get("stage") else f"`{c['name']}`"
                        for c in e.get("consumers", [])) or "no consumer"
    return (f"`{name}` changed {when}: {'; '.join(parts)}. Read by {readers}: check the "
            f"upstream change before it reaches predictions.")


SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "stale_source": _stale_source,
    "unready_dependency": _unready_dependency,
    "unstable_dependency": _unstable_dependency,
}
"""What a data scientist can act on, for the kinds whose evidence needs words."""


def explain_finding(f: dict[str, Any]) -> list[str]:
    """Lines of text: what, why (the one-line summary), then every piece of evidence."""
    subject = f"{f['subject']['type']} {f['subject']['name']}"
    lines = [f"#{f['id']} {f['kind']} — {subject} ({f['severity']}, {f['status']})",
             f"{f['summary']}."]
    sentence = SENTENCES.get(f["kind"])
    if sentence is not None:
        try:
            lines.append(sentence(f))
        except (KeyError, TypeError, AttributeError):
            pass  # evidence of an older shape: the fields below still say it
    if f["related"]:
        lines.append("related: " + ", ".join(f"{r['type']} {r['name']}" for r in f["related"]))
    lines.append(f"first seen {f['first_seen'][:10]}, last seen {f['last_seen'][:10]}")
    if f.get("status_reason"):
        lines.append(f"status reason: {f['status_reason']}")
    lines.append("evidence:")
    for key, value in f["evidence"].items():
        lines.append(f"  {key.replace('_', ' ')}: {_fmt(value)}")
    return lines
