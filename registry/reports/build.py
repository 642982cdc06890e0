"""The weekly report's content for one team, as JSON-ready dicts (pure: `ReportInput` in).

Sections, in order: deprecation candidates, deprecated features (ours, with whom to contact,
and others' that we depend on), undeclared reads, feedback loops, data health (unstable
dependencies, stale sources, models on data below their readiness), what changed since the last
report, totals with an 8-week trend. `registry.reports.org` adds the org-wide summary.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from registry.reports.collect import TREND_WEEKS, ReportInput
from registry.reports.graphs import cycle_snippet, deletion_payoff, feature_snippet

__all__ = ["CANDIDATE_KINDS", "SEVERITY_WEIGHT", "build_team_report", "candidate_sort_key",
           "changes_of", "report_header", "totals_of", "trend_of"]

CANDIDATE_KINDS = ("legacy", "bundled", "epsilon", "correlated")
PRIMARY_ORDER = ("correlated", "legacy", "bundled", "epsilon")
"""Which finding's action a feature with several candidate findings gets."""
HEALTH_KINDS = ("unstable_dependency", "stale_source", "unready_dependency")
SEVERITY_WEIGHT = {"critical": 5, "warning": 2, "info": 1}
"""Debt score of an open finding by severity (suppressed findings score nothing)."""
ACTIVE = ("open", "acknowledged")
SUNSET_NOTICE_DAYS = 35
MAX_GRAPHS = 10


def _related(finding: dict[str, Any], node_type: str = "feature") -> list[str]:
    return [r["name"] for r in finding["related"] if r["type"] == node_type]


def _action(finding: dict[str, Any]) -> tuple[str, str, str | None]:
    """(action, action in words, the feature to keep or use instead)."""
    kind, evidence = finding["kind"], finding["evidence"]
    if kind == "correlated":
        keep = _related(finding)[0] if _related(finding) else evidence.get("keeper")
        return "merge", f"merge into {keep} (move its consumers, then delete it)", keep
    if kind == "bundled":
        bundle = evidence.get("bundle", "its bundle")
        return "drop_from_bundle", f"drop from the bundle {bundle}", None
    newer = _related(finding)
    if newer:
        return "deprecate", f"deprecate in favour of {newer[0]}", newer[0]
    return "deprecate", "deprecate", None


def _command(feature: str, kind: str, replacement: str | None, sunset: date) -> str:
    parts = ["featreg deprecate", feature, f"--sunset {sunset.isoformat()}"]
    if replacement:
        parts.append(f"--replacement {replacement}")
    parts.append(f'--reason "{kind} (weekly report)"')
    return " ".join(parts)


def candidate_sort_key(action: dict[str, Any]) -> tuple[Any, ...]:
    """Largest payoff first: most upstream dependencies removed per feature deleted, then
    most removed, then fewest consumers and derived features to move."""
    payoff = action["payoff"]
    return (-payoff["per_feature"], -payoff["upstream_removed"],
            len(payoff["consumers_to_migrate"]) + len(payoff["derived_features"]),
            action["subject"]["type"], action["subject"]["name"])


def _source_actions(inp: ReportInput, team: str) -> list[dict[str, Any]]:
    """Sources whose every feature is a candidate: retire the source with its features."""
    actions = []
    for f in inp.findings:
        if f["kind"] != "underutilized_source" or f["owner"] != team or \
                f["status"] not in ACTIVE:
            continue
        source, features = f["subject"]["name"], _related(f)
        actions.append({
            "subject": {"type": "source", "name": source}, "source": source, "team": team,
            "kinds": [f["kind"]], "finding_id": f["id"], "features": features,
            "evidence": [{"kind": f["kind"], "finding_id": f["id"], "summary": f["summary"]}],
            "action": "retire_source",
            "action_text": f"retire {source} with its {len(features)} "
                           f"feature{'' if len(features) == 1 else 's'}",
            "payoff": deletion_payoff(inp.graph, features).to_dict(),
        })
    actions.sort(key=candidate_sort_key)
    return actions


def _candidates(inp: ReportInput, team: str) -> list[dict[str, Any]]:
    """One entry per feature: its candidate findings (one evidence line each), and the action
    of the most specific one (merge into the kept feature before deprecate or drop)."""
    sunset = inp.week.start + timedelta(days=SUNSET_NOTICE_DAYS)
    by_feature: dict[str, list[dict[str, Any]]] = {}
    for f in inp.findings:
        if f["kind"] not in CANDIDATE_KINDS or f["owner"] != team or f["status"] not in ACTIVE:
            continue
        feature = f["subject"]["name"]
        if inp.state.features.get(feature, {}).get("status", "active") == "active":
            by_feature.setdefault(feature, []).append(f)
    found = []
    for feature, group in by_feature.items():
        group.sort(key=lambda f: PRIMARY_ORDER.index(f["kind"]))
        primary = group[0]
        action, action_text, keep = _action(primary)
        found.append({
            "subject": {"type": "feature", "name": feature},
            "feature": feature, "team": team, "kind": primary["kind"],
            "kinds": [f["kind"] for f in group], "finding_id": primary["id"],
            "severity": primary["severity"],
            "status": "acknowledged" if all(f["status"] == "acknowledged" for f in group)
            else "open",
            "evidence": [{"kind": f["kind"], "finding_id": f["id"], "summary": f["summary"]}
                         for f in group],
            "action": action, "action_text": action_text, "keep": keep,
            "bundle": primary["evidence"].get("bundle"),
            "payoff": deletion_payoff(inp.graph, feature).to_dict(),
            "command": _command(feature, primary["kind"], keep, sunset),
            "graph": feature_snippet(inp.graph, feature, keep=keep)
            if primary["kind"] == "correlated" else None,
        })
    found.sort(key=candidate_sort_key)
    return found


def _in_use(inp: ReportInput) -> dict[str, dict[str, Any]]:
    return {f["subject"]["name"]: f for f in inp.findings
            if f["kind"] == "deprecated_in_use" and f["status"] in ACTIVE}


def _who(inp: ReportInput, consumer: str) -> dict[str, Any]:
    team = inp.team_of("consumer", consumer)
    return {"consumer": consumer, "team": team, "contact": inp.contact_of(team),
            "registered": consumer in inp.state.consumers}


def _declaring(inp: ReportInput, feature: str) -> list[str]:
    return sorted(c for c, fields in inp.state.consumers.items() if feature in fields["features"])


def _deprecated_entry(inp: ReportInput, feature: str, finding: dict[str, Any] | None
                      ) -> dict[str, Any]:
    fields = inp.state.features[feature]
    readers = []
    for reader in (finding or {}).get("evidence", {}).get("readers", []):
        readers.append({**_who(inp, reader["principal"]), "count": reader["count"],
                        "last_read": reader["last_read"], "declared": reader["declared"]})
    declared = [_who(inp, c) for c in _declaring(inp, feature)]
    contacts: dict[str, str | None] = {}
    for person in declared + readers:
        if person["team"] is not None:
            contacts[person["team"]] = person["contact"]
    undeclared = [r["consumer"] for r in readers if not r["declared"]]
    return {
        "feature": feature, "owner": fields["owner"], "status": fields["status"],
        "sunset": fields["sunset"], "replacement": fields["replacement"],
        "reason": fields["reason"], "finding_id": finding["id"] if finding else None,
        "severity": finding["severity"] if finding else None,
        "past_sunset": bool(finding and finding["evidence"].get("past_sunset")),
        "total_reads": sum(r["count"] for r in readers), "readers": readers,
        "declared_consumers": declared,
        "contacts": [{"team": t, "contact": c} for t, c in sorted(contacts.items())],
        "usage": [[day, reads] for day, reads in inp.daily_reads.get(feature, [])],
        "graph": feature_snippet(inp.graph, feature, undeclared_readers=undeclared),
    }


def _deprecated(inp: ReportInput, team: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Our deprecated/retired features (retired ones only while still read or declared), and
    other teams' deprecated/retired features our consumers declare or read."""
    in_use = _in_use(inp)
    ours, theirs = [], []
    for feature, fields in sorted(inp.state.features.items()):
        if fields["status"] not in ("deprecated", "retired"):
            continue
        entry = _deprecated_entry(inp, feature, in_use.get(feature))
        if fields["owner"] == team:
            if fields["status"] == "deprecated" or entry["readers"] or entry["declared_consumers"]:
                ours.append(entry)
            continue
        mine = sorted({p["consumer"] for p in entry["declared_consumers"] + entry["readers"]
                       if p["team"] == team})
        if mine:
            theirs.append({**entry, "our_consumers": mine, "graph": None})
    return ours, theirs


def _undeclared(inp: ReportInput, team: str) -> dict[str, list[dict[str, Any]]]:
    of_ours, by_ours = [], []
    for f in inp.findings:
        if f["kind"] != "undeclared_consumer" or f["status"] not in ACTIVE:
            continue
        principal = f["subject"]["name"]
        who = _who(inp, principal)
        reads = f["evidence"].get("reads", [])
        for read in reads:
            if inp.team_of("feature", read["feature"]) == team:
                of_ours.append({**who, "feature": read["feature"], "count": read["count"],
                                "last_read": read["last_read"], "finding_id": f["id"]})
        if f["owner"] == team:
            by_ours.append({**who, "finding_id": f["id"], "severity": f["severity"],
                            "summary": f["summary"],
                            "features": [{**read, "owner": inp.team_of("feature", read["feature"])}
                                         for read in reads]})
    of_ours.sort(key=lambda r: (r["feature"], r["consumer"]))
    by_ours.sort(key=lambda r: r["consumer"])
    return {"of_our_features": of_ours, "by_our_consumers": by_ours}


def _feedback_loops(inp: ReportInput, team: str) -> list[dict[str, Any]]:
    loops = []
    for f in inp.findings:
        if f["kind"] != "feedback_loop" or f["status"] not in ACTIVE:
            continue
        cycle = [{**node, "owner": inp.team_of(node["type"], node["name"])}
                 for node in f["evidence"].get("cycle", [])]
        if any(node["owner"] == team for node in cycle):
            loops.append({"finding_id": f["id"], "summary": f["summary"],
                          "severity": f["severity"], "cycle": cycle,
                          "graph": cycle_snippet(cycle)})
    return loops


def _data_health(inp: ReportInput, team: str) -> list[dict[str, Any]]:
    """Active data-health findings that concern the team: on what it owns (``ours``) or on
    what its consumers depend on (``related``: the finding's related objects it owns)."""
    rows = []
    for f in inp.findings:
        if f["kind"] not in HEALTH_KINDS or f["status"] not in ACTIVE:
            continue
        ours = f["owner"] == team
        affected = sorted(r["name"] for r in f.get("related", [])
                          if inp.team_of(r["type"], r["name"]) == team)
        if ours or affected:
            rows.append({"finding_id": f["id"], "kind": f["kind"], "subject": f["subject"],
                         "severity": f["severity"], "summary": f["summary"], "ours": ours,
                         "affects": affected})
    order = {"critical": 0, "warning": 1, "info": 2}
    rows.sort(key=lambda r: (order.get(r["severity"], 3), HEALTH_KINDS.index(r["kind"]),
                             r["subject"]["name"]))
    return rows


def changes_of(inp: ReportInput, team: str | None) -> dict[str, list[dict[str, Any]]]:
    def mine(f: dict[str, Any]) -> bool:
        return team is None or f["owner"] == team

    def brief(f: dict[str, Any]) -> dict[str, Any]:
        return {"id": f["id"], "kind": f["kind"], "subject": f["subject"],
                "severity": f["severity"], "summary": f["summary"]}

    since = inp.since
    new = [brief(f) for f in inp.findings
           if mine(f) and datetime.fromisoformat(f["first_seen"]) > since]
    resolved = [brief(f) for f in inp.findings if mine(f) and f["status"] == "resolved"]
    lifecycle = []
    for event in inp.lifecycle_events:
        owner = inp.team_of("feature", event["feature"])
        if team is not None and owner != team:
            continue
        status = event["after"]["status"]
        change = {"deprecated": "deprecated", "retired": "retired"}.get(status, "reactivated")
        lifecycle.append({"feature": event["feature"], "owner": owner, "change": change,
                          "ts": event["ts"], "actor": event["actor"],
                          "sunset": event["after"].get("sunset"),
                          "reason": event["after"].get("reason")})
    return {"new_findings": new, "resolved_findings": resolved, "lifecycle": lifecycle}


def totals_of(inp: ReportInput, team: str | None) -> dict[str, Any]:
    """Unresolved findings of a team (None: everyone): per kind and severity, with the debt
    score (severity weights of the open and acknowledged ones)."""
    chosen = [f for f in inp.findings
              if f["status"] != "resolved" and (team is None or f["owner"] == team)]
    by_kind = Counter(f["kind"] for f in chosen)
    active = [f for f in chosen if f["status"] in ACTIVE]
    return {
        "open": len(chosen),
        "open_by_kind": dict(sorted(by_kind.items())),
        "by_severity": dict(sorted(Counter(f["severity"] for f in active).items())),
        "suppressed": sum(1 for f in chosen if f["status"] == "suppressed"),
        "debt_score": sum(SEVERITY_WEIGHT.get(f["severity"], 1) for f in active),
    }


def trend_of(inp: ReportInput, team: str | None, current: dict[str, int]
             ) -> list[dict[str, Any]]:
    """Open findings per kind at the end of each of the last TREND_WEEKS weeks: from the
    report stored for that week when there is one, else from the findings' history."""
    key = team or ""
    rows = []
    for week in inp.week.last(TREND_WEEKS):
        if week == inp.week:
            counts, source = current, "current"
        elif (key, week.start.isoformat()) in inp.stored_totals:
            counts, source = inp.stored_totals[(key, week.start.isoformat())], "report"
        else:
            moment = week.ends_at
            counts = dict(sorted(Counter(
                h.kind for h in inp.history
                if (team is None or h.owner == team) and h.open_at(moment)).items()))
            source = "findings"
        rows.append({"week": week.label, "week_start": week.start.isoformat(),
                     "open_by_kind": counts, "source": source})
    return rows


def report_header(inp: ReportInput) -> dict[str, Any]:
    now, since = inp.now.astimezone(UTC).isoformat(), inp.since.astimezone(UTC).isoformat()
    return {"week": inp.week.label, "week_start": inp.week.start.isoformat(),
            "timezone": inp.week.timezone, "generated_at": now,
            "period": {"since": since, "until": now},
            "analysis": inp.analysis}


def _limit_graphs(items: list[dict[str, Any]]) -> None:
    for index, item in enumerate(items):
        if index >= MAX_GRAPHS:
            item["graph"] = None


def build_team_report(inp: ReportInput, team: str) -> dict[str, Any]:
    """The report content of one team (see the module docstring for the sections)."""
    candidates = _candidates(inp, team)
    ours, theirs = _deprecated(inp, team)
    loops = _feedback_loops(inp, team)
    for items in (candidates, ours, loops):
        _limit_graphs(items)
    totals = totals_of(inp, team)
    trend = trend_of(inp, team, totals["open_by_kind"])
    previous = trend[-2]["open_by_kind"] if len(trend) > 1 else {}
    kinds = sorted(set(previous) | set(totals["open_by_kind"]))
    return {
        "kind": "team", "team": team, "contact": inp.contact_of(team), **report_header(inp),
        "candidates": candidates,
        "source_actions": _source_actions(inp, team),
        "deprecated": ours,
        "deprecated_dependencies": theirs,
        "undeclared": _undeclared(inp, team),
        "feedback_loops": loops,
        "data_health": _data_health(inp, team),
        "changes": changes_of(inp, team),
        "totals": totals,
        "change_by_kind": {k: totals["open_by_kind"].get(k, 0) - previous.get(k, 0)
                           for k in kinds},
        "trend": trend,
    }
