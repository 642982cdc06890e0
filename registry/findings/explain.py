"""A finding's evidence in words, for `featreg explain` and the UI: one source for the words.

`explain_sentence` says, for every finding kind, what was found and what to do about it; the
CLI prints it under the one-line summary and the finding page leads with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Finding = dict[str, Any]


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value) if value else "none"
    return "—" if value is None else str(value)


def percent(share: float | None) -> str:
    """A share as a percentage rounded for reading: 0.0038 -> "0.38%", 0.136 -> "13.6%"."""
    if share is None:
        return "no evidence"
    return f"{share * 100:.2g}%" if share < 0.1 else f"{share * 100:.1f}%"


def _quoted(names: Iterable[Any], empty: str = "none") -> str:
    shown = [f"`{n}`" for n in names]
    if len(shown) > 6:
        shown = [*shown[:5], f"{len(shown) - 5} more"]
    return ", ".join(shown) if shown else empty


def _names(rows: list[Any]) -> str:
    return ", ".join(str(r) for r in rows) if rows else "no consumer"


def _day(text: str | None) -> str:
    return text[:10] if text else "never"


def _stale_source(f: Finding) -> str:
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


def _unready_dependency(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    below = ", ".join(f"`{b['source']}` ({b['readiness']})" for b in e.get("below", []))
    return (f"`{name}` is a {e['stage']} consumer, which needs data readiness {e['needs']}, "
            f"but it depends on {below}. Raise their readiness once their errors, sampling "
            f"and missing values are understood (B) and they are shown fit for this task (A), "
            f"or move `{name}` back to an earlier stage.")


def _unstable_dependency(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    parts = [str(c.get("words") or c.get("kind")) for c in e.get("changes", [])]
    when = f"between the snapshots of {e.get('previous_taken_at', '?')[:10]} and " \
           f"{e.get('latest_taken_at', '?')[:10]}"
    readers = ", ".join(f"`{c['name']}` ({c['stage']})" if c.get("stage") else f"`{c['name']}`"
                        for c in e.get("consumers", [])) or "no consumer"
    return (f"`{name}` changed {when}: {'; '.join(parts)}. Read by {readers}: check the "
            f"upstream change before it reaches predictions.")


def _legacy(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    if e.get("reason") == "superseded":
        newer = _quoted(s.get("feature") for s in e.get("superseded_by", []))
        return (f"`{name}` has been superseded by {newer}: they carry the same signal "
                f"(correlated at least {e.get('correlation_threshold', 0.95):g}) and the newer "
                f"one carries the importance, while the largest importance share of `{name}` "
                f"is {percent(e.get('max_share'))}. Move its consumers "
                f"({_quoted(e.get('declared_by', []))}) to the newer feature, then deprecate it.")
    read = (f"was last read on {_day(e.get('last_read'))}" if e.get("last_read")
            else "has never been read")
    return (f"`{name}` {read}: nobody has read it in the last {e.get('window_days', 90)} days. "
            f"Declared by {_quoted(e.get('declared_by', []), 'no consumer')}. If nothing "
            f"needs it, deprecate it with a sunset date, then retire it.")


def _bundled(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    return (f"`{name}` arrived with {len(e.get('members', []))} features in bundle "
            f"`{e.get('bundle')}`, whose importance sits in "
            f"{_quoted(e.get('valuable_members', []))}; `{name}` adds at most "
            f"{percent(e.get('max_share'))} importance share to any consumer (threshold "
            f"{percent(e.get('threshold'))}). It costs upkeep for no gain: deprecate it.")


def _epsilon(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    count = len(e.get("shares") or {})
    return (f"`{name}` is worth very little: its largest importance share is "
            f"{percent(e.get('max_share'))} over {count} consumer{'' if count == 1 else 's'}"
            f", below {percent(e.get('threshold'))}. Drop it from the models that read it, "
            f"then deprecate it.")


def _correlated(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    strength = max(abs(e.get("pearson") or 0.0), abs(e.get("spearman") or 0.0))
    others = [m for m in e.get("cluster", []) if m != name]
    return (f"`{name}` carries the same information as {_quoted(others)} (|r| = "
            f"{strength:.3f}). Keep `{e.get('keeper')}` ({e.get('reason_text') or e.get('reason')})"
            f", move the consumers of `{name}` to it and deprecate `{name}`.")


def _undeclared_consumer(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    reads = e.get("reads", [])
    total = sum(int(r.get("count") or 0) for r in reads)
    what = _quoted(r.get("feature") for r in reads)
    if not e.get("registered"):
        todo = (f"Register `{name}` as a consumer declaring these features (its page has the "
                f"YAML to paste), so their owners know it depends on them.")
    else:
        todo = f"Add them to the `features` of `{name}`, or stop reading them."
    return (f"`{name}` read {len(reads)} feature{'' if len(reads) == 1 else 's'} it never "
            f"declared ({total:,} reads in {e.get('window_days', 90)} days): {what}. "
            f"Their owners cannot see this dependency and may change or delete them. {todo}")


def _feedback_loop(f: Finding) -> str:
    e = f["evidence"]
    cycle = [n.get("name") for n in e.get("cycle", [])]
    path = " → ".join(f"`{n}`" for n in [*cycle, cycle[0]]) if cycle else "?"
    kind = "A hidden feedback loop through other models" if e.get("hidden") \
        else "A direct feedback loop"
    return (f"{kind}: {path}. A model that reads its own predictions learns from its own "
            f"behaviour; break the loop (train on data logged before the model acted) or "
            f"declare it and watch it.")


def _deprecated_in_use(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    readers = _quoted(r.get("principal") for r in e.get("readers", []))
    sunset = f" Its sunset is {e['sunset']}{' (passed)' if e.get('past_sunset') else ''}." \
        if e.get("sunset") else ""
    instead = f" Move them to `{e['replacement']}`." if e.get("replacement") else ""
    return (f"`{name}` is {e.get('status')} but was read {int(e.get('total_reads') or 0):,} "
            f"times in {e.get('window_days', 90)} days by {readers}.{sunset}{instead}")


def _undocumented(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    return (f"`{name}` has no description, so {_quoted(e.get('declared_by', []), 'its readers')}"
            f" cannot tell what it means. Team `{e.get('owner')}` should add a `description` "
            f"to its spec and apply it.")


def _underutilized_source(f: Finding) -> str:
    e, name = f["evidence"], f["subject"]["name"]
    counts = ", ".join(f"{n} {k}" for k, n in sorted((e.get("counts") or {}).items()))
    return (f"Every feature built on `{name}` is a deprecation candidate ({counts}). Once they "
            f"are deprecated, the pipeline that fills `{name}` may be switched off.")


SENTENCES: dict[str, Callable[[Finding], str]] = {
    "legacy": _legacy,
    "bundled": _bundled,
    "epsilon": _epsilon,
    "correlated": _correlated,
    "undeclared_consumer": _undeclared_consumer,
    "feedback_loop": _feedback_loop,
    "deprecated_in_use": _deprecated_in_use,
    "undocumented": _undocumented,
    "underutilized_source": _underutilized_source,
    "stale_source": _stale_source,
    "unready_dependency": _unready_dependency,
    "unstable_dependency": _unstable_dependency,
}
"""What a data scientist can act on, one sentence maker per finding kind."""


def explain_sentence(f: Finding) -> str:
    """What was found and what to do, in words (the summary when the evidence has an older
    shape than the words expect)."""
    sentence = SENTENCES.get(f["kind"])
    if sentence is not None:
        try:
            return sentence(f)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError):
            pass  # evidence of an older shape: the summary still says it
    return f"{f['summary'][:1].upper()}{f['summary'][1:]}."


def explain_finding(f: Finding) -> list[str]:
    """Lines of text: what, why (the one-line summary), then every piece of evidence."""
    subject = f"{f['subject']['type']} {f['subject']['name']}"
    lines = [f"#{f['id']} {f['kind']} — {subject} ({f['severity']}, {f['status']})",
             f"{f['summary']}."]
    sentence = explain_sentence(f)
    if sentence != f"{f['summary'][:1].upper()}{f['summary'][1:]}.":
        lines.append(sentence)
    if f["related"]:
        lines.append("related: " + ", ".join(f"{r['type']} {r['name']}" for r in f["related"]))
    lines.append(f"first seen {f['first_seen'][:10]}, last seen {f['last_seen'][:10]}")
    if f.get("status_reason"):
        lines.append(f"status reason: {f['status_reason']}")
    lines.append("evidence:")
    for key, value in f["evidence"].items():
        lines.append(f"  {key.replace('_', ' ')}: {_fmt(value)}")
    return lines
