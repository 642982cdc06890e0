"""Read side of one finding: the page (sentence, evidence tables, the picture of a loop or a
cluster), and the findings an object takes part in as a member of a loop or a cluster.

A feedback loop is one finding about one consumer, and a correlated cluster one finding per
feature to drop; every other node of the loop and every member of the cluster (the keeper
included) shows it on its own page too (`member_findings`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import String, Text, bindparam, cast, select
from sqlalchemy.orm import Session

from registry.findings.explain import explain_sentence
from registry.findings.records import finding_to_dict, get_finding
from registry.read.common import ACTIVE_STATUSES, object_history, run
from registry.read.finding_actions import finding_actions
from registry.read.finding_evidence import evidence_layout
from registry.store import models as m

MEMBER_KINDS = ("feedback_loop", "correlated")
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def finding_detail(session: Session, finding_id: int) -> dict[str, Any]:
    """The finding as DESIGN.md shapes it (raw evidence), its explanation and history."""
    data = finding_to_dict(get_finding(session, finding_id))
    data["explanation"] = explain_sentence(data)
    data["history"] = object_history(session, "finding", str(finding_id))
    return data


def finding_page_extras(session: Session, data: dict[str, Any], *, today: date
                        ) -> dict[str, Any]:
    """What only the page needs: the evidence as tables, the graph of a loop or cluster, the
    explanation's names as code, and the actions ready to paste or click."""
    return {"layout": evidence_layout(data), "picture": finding_picture(session, data),
            "explanation_parts": code_spans(data["explanation"]),
            "actions": finding_actions(session, data, today=today)}


def code_spans(text: str) -> list[dict[str, Any]]:
    """Text with `names` in backticks as parts: [{text, code}] (a lone backtick stays text)."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        return [{"text": text, "code": False}]
    return [{"text": piece, "code": i % 2 == 1} for i, piece in enumerate(pieces) if piece]


# ----- membership --------------------------------------------------------------------------------


def _members(finding: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, name) of every node of a loop or member of a cluster, the subject included."""
    evidence = finding.get("evidence") or {}
    nodes = {(finding["subject"]["type"], finding["subject"]["name"])}
    nodes.update((r["type"], r["name"]) for r in finding.get("related") or [])
    if finding["kind"] == "correlated":
        nodes.update(("feature", str(n)) for n in evidence.get("cluster") or [])
    else:
        for cycle in [evidence.get("cycle") or [], *(evidence.get("other_cycles") or [])]:
            nodes.update((n["type"], n["name"]) for n in cycle if isinstance(n, dict))
    return nodes


MEMBER_FINDINGS = select(m.Finding.__table__).where(
    m.Finding.kind.in_(MEMBER_KINDS), m.Finding.status.in_(ACTIVE_STATUSES),
    ~((m.Finding.subject_type == bindparam("type", type_=String))
      & (m.Finding.subject_name == bindparam("name", type_=String))),
    cast(m.Finding.related, Text).like(bindparam("pattern", type_=String), escape="/"))
"""Built once (see registry.read.common.OBJECT_HISTORY); `pattern` is the quoted name with
LIKE's wildcards escaped by ``/``."""


def member_findings(session: Session, object_type: str, name: str) -> list[dict[str, Any]]:
    """Active loop and cluster findings about other objects that this object is part of,
    each marked ``member``. ``related`` names every other node of a loop and the feature a
    cluster keeps (each other member has its own finding about the cluster), so the database
    narrows by the quoted name in that short JSON; the exact membership is then checked on the
    decoded finding."""
    quoted = json.dumps(name)
    pattern = "%" + "".join("/" + c if c in "%_/" else c for c in quoted) + "%"
    rows = run(session, MEMBER_FINDINGS, {"type": object_type, "name": name,
                                          "pattern": pattern})
    found = []
    for row in rows:
        data = finding_to_dict(row)
        if (object_type, name) in _members(data):
            found.append({**data, "member": True})
    return found


def findings_with_membership(own: list[dict[str, Any]], member: Iterable[dict[str, Any]]
                             ) -> list[dict[str, Any]]:
    """An object's own findings and those it takes part in, most severe first."""
    seen = {f["id"] for f in own}
    merged = own + [f for f in member if f["id"] not in seen]
    return sorted(merged, key=lambda f: (SEVERITY_RANK.get(f["severity"], 3),
                                         bool(f.get("member")), f["kind"], f["id"]))


# ----- pictures ----------------------------------------------------------------------------------


def _node(node_type: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{node_type}:{name}", "type": node_type, "name": name, **extra}


def _declared_pairs(session: Session, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (feature, consumer) pairs among `pairs` that the consumer declares."""
    if not pairs:
        return set()
    consumers = sorted({c for _, c in pairs})
    rows = run(session, select(m.Feature.name, m.Consumer.name)
               .join(m.ConsumerFeature, m.ConsumerFeature.feature_id == m.Feature.id)
               .join(m.Consumer, m.Consumer.id == m.ConsumerFeature.consumer_id)
               .where(m.Consumer.name.in_(consumers)))
    return {(f, c) for f, c in rows} & pairs


EDGE_KIND = {("consumer", "source"): "produces", ("source", "feature"): "source",
             ("feature", "feature"): "depends", ("source", "consumer"): "source"}


def _loop_picture(session: Session, finding: dict[str, Any]) -> dict[str, Any] | None:
    cycle = [n for n in (finding["evidence"].get("cycle") or []) if isinstance(n, dict)]
    if not cycle:
        return None
    steps = list(zip(cycle, [*cycle[1:], cycle[0]], strict=True))
    reads = {(a["name"], b["name"]) for a, b in steps
             if (a["type"], b["type"]) == ("feature", "consumer")}
    declared = _declared_pairs(session, reads)
    edges = []
    for a, b in steps:
        kind = EDGE_KIND.get((a["type"], b["type"]), "declared")
        if (a["name"], b["name"]) in reads:
            kind = "declared" if (a["name"], b["name"]) in declared else "undeclared"
        edges.append({"from": f"{a['type']}:{a['name']}", "to": f"{b['type']}:{b['name']}",
                      "kind": kind})
    subject = finding["subject"]["name"]
    nodes = [_node(n["type"], n["name"], subject=n["name"] == subject) for n in cycle]
    return {"kind": "cycle", "nodes": nodes, "edges": edges}


def _cluster_picture(finding: dict[str, Any]) -> dict[str, Any] | None:
    evidence = finding["evidence"]
    members = [str(n) for n in evidence.get("cluster") or []]
    if len(members) < 2:
        return None
    keeper, subject = evidence.get("keeper"), finding["subject"]["name"]
    nodes = [_node("feature", n, role="keep" if n == keeper else
                   "drop" if n == subject else "member") for n in members]
    edges = [{"from": f"feature:{p['a']}", "to": f"feature:{p['b']}", "kind": "correlated",
              "label": f"{max(abs(p.get('pearson') or 0.0), abs(p.get('spearman') or 0.0)):.3f}"}
             for p in evidence.get("pairs") or [] if p.get("a") in members
             and p.get("b") in members]
    return {"kind": "cluster", "nodes": nodes, "edges": edges}


def finding_picture(session: Session, finding: dict[str, Any]) -> dict[str, Any] | None:
    """The nodes and edges to draw for a feedback loop (its cycle, each read marked declared
    or not) or a correlated finding (its cluster, keeper and feature to drop marked, each
    measured pair labelled with its |r|); None for the other kinds."""
    try:
        if finding["kind"] == "feedback_loop":
            return _loop_picture(session, finding)
        if finding["kind"] == "correlated":
            return _cluster_picture(finding)
    except (KeyError, TypeError, AttributeError):
        return None  # evidence of an older shape: the tables still show it
    return None
