"""Graphviz DOT for a graph value (`registry.read.graph.GraphData.to_dict()`).

Shape says what a node is (feature: rounded box, source: cylinder, consumer: ellipse, a
principal that is not a registered consumer: dashed octagon); fill says a feature's status
(deprecated orange, retired grey) or its data health, which comes first (stale source yellow,
unstable feature pink, unready consumer or source lilac); a thick coloured border says it has
active findings (red critical, amber warning, blue info). Undeclared reads are dashed red
edges; edges on a feedback loop are thick purple. Nodes are grouped by owner: as clusters in a
layered (`dot`) layout, or around a label of the team in a spring (`sfdp`) layout, where each
team's objects are drawn to its label by invisible edges, so teams sit side by side.

Elements carry classes for the page's script and tests: a node is ``node <type>`` plus
``unregistered``, ``loop``, ``health-<word>`` and ``severity-<level>`` where they apply; an
edge is ``edge <kind>`` plus ``loop``; a team label is ``node team-label``.

Every value is written as a DOT quoted string with its backslashes doubled (`_quoted`: no
HTML-like labels, no backslash escapes); node identifiers are synthetic (n0, n1, …) so hostile
names never reach DOT syntax. Output is deterministic: nodes, clusters and edges are emitted in
sorted order.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

UrlFor = Callable[[str, str], str]

SHAPES = {"feature": ("box", "rounded,filled"), "source": ("cylinder", "filled"),
          "consumer": ("ellipse", "filled")}
STATUS_FILL = {"active": "#ffffff", "deprecated": "#fde7c2", "retired": "#e2e2e2"}
TYPE_FILL = {"source": "#e6f0fb", "consumer": "#e7f6ec", "feature": "#ffffff"}
SEVERITY_COLOUR = {"critical": "#b91c1c", "warning": "#d97706", "info": "#2563eb"}
EDGE_STYLE = {
    "source": {"color": "#64748b"},
    "depends": {"color": "#64748b"},
    "declared": {"color": "#16a34a"},
    "produces": {"color": "#0e7490", "style": "bold"},
    "undeclared": {"color": "#dc2626", "style": "dashed", "penwidth": "1.6"},
}
LOOP_STYLE = {"color": "#7c3aed", "penwidth": "2.6"}
HEALTH_FILL = {"stale": "#fef08a", "unstable": "#fbcfe8", "unready": "#ddd6fe"}
"""Fill of a node with a data-health finding (see registry.read.graph.HEALTH_KINDS)."""
LABEL_LIMIT = 48


def _quoted(value: str) -> str:
    """A DOT double-quoted string holding exactly `value` (backslashes doubled, quotes
    escaped: nothing in it is DOT syntax or a Graphviz escape sequence: labels show as they
    are, with no \\N, \\G or \\l expanded)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attributes(attrs: dict[str, str]) -> str:
    return " [" + " ".join(f"{key}={_quoted(value)}" for key, value in attrs.items()) + "]"


class _Dot:
    """The lines of a DOT digraph, written directly (the `graphviz` package's writer checks
    and quotes every value with regular expressions: about a third of a feature page's time
    went there). Identifiers are ours (n0, t0, cluster_0); every value is quoted."""

    def __init__(self, graph: dict[str, str], node: dict[str, str], edge: dict[str, str]
                 ) -> None:
        self.lines = ["digraph featreg {", f"\tgraph{_attributes(graph)}",
                      f"\tnode{_attributes(node)}", f"\tedge{_attributes(edge)}"]

    def node(self, node_id: str, attrs: dict[str, str], indent: str = "\t") -> None:
        self.lines.append(f"{indent}{node_id}{_attributes(attrs)}")

    def edge(self, tail: str, head: str, attrs: dict[str, str]) -> None:
        self.lines.append(f"\t{tail} -> {head}{_attributes(attrs)}")

    def source(self) -> str:
        return "\n".join([*self.lines, "}"]) + "\n"


def _label(name: str) -> str:
    return name if len(name) <= LABEL_LIMIT else name[: LABEL_LIMIT - 1] + "…"


def _tooltip(node: dict[str, Any]) -> str:
    parts = [f"{node['type']} {node['name']}"]
    if node.get("owner"):
        parts.append(f"owner: {node['owner']}")
    if node.get("status") and node["status"] != "active":
        parts.append(f"status: {node['status']}")
    if not node.get("registered"):
        parts.append("not a registered consumer")
    if node.get("findings"):
        parts.append("findings: " + ", ".join(node["findings"]))
    if node.get("loop"):
        parts.append("on a feedback loop")
    return " | ".join(parts)


def _node_attrs(node: dict[str, Any], url_for: UrlFor, focus: str | None) -> dict[str, str]:
    shape, style = SHAPES.get(node["type"], ("box", "filled"))
    fill = TYPE_FILL.get(node["type"], "#ffffff")
    if node["type"] == "feature":
        fill = STATUS_FILL.get(node.get("status") or "active", "#ffffff")
    for word in node.get("health") or ():
        fill = HEALTH_FILL.get(word, fill)
    attrs = {"label": _label(node["name"]), "tooltip": _tooltip(node), "shape": shape,
             "style": style, "fillcolor": fill, "color": "#475569", "penwidth": "1",
             "URL": url_for(node["type"], node["name"]),
             "target": "_top", "id": f"node-{hash_name(node['id'])}",
             "class": _node_class(node)}
    if node["type"] == "consumer" and not node.get("registered"):
        attrs.update(shape="octagon", style="dashed,filled", fillcolor="#fdecec")
    if node.get("severity"):
        attrs.update(color=SEVERITY_COLOUR.get(node["severity"], "#475569"), penwidth="2.4")
    if node.get("loop"):
        attrs.update(peripheries="2")
    if node["id"] == focus:
        attrs.update(penwidth="3.2", fontname="Helvetica-Bold")
        attrs["class"] += " focus"
    return attrs


def _node_class(node: dict[str, Any]) -> str:
    words = [node["type"]]
    if node["type"] == "consumer" and not node.get("registered"):
        words.append("unregistered")
    if node.get("loop"):
        words.append("loop")
    words += [f"health-{word}" for word in node.get("health") or ()]
    if node.get("severity"):
        words.append(f"severity-{node['severity']}")
    return " ".join(words)


def hash_name(text: str) -> int:
    """A stable small integer for an element id (Python's hash() is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def build_dot(graph: dict[str, Any], url_for: UrlFor, *, cluster_by_owner: bool = True,
              rankdir: str = "LR", spring: bool = False) -> str:
    """The DOT source of a graph dict (nodes, edges, focus). `spring`: for the `sfdp` layout
    (owners as labels that draw their objects together, not clusters)."""
    dot = _Dot(
        {"rankdir": rankdir, "bgcolor": "transparent", "fontname": "Helvetica",
         "fontsize": "11", "nodesep": "0.25", "ranksep": "0.6", "newrank": "true"},
        {"fontname": "Helvetica", "fontsize": "11", "height": "0.3", "margin": "0.12,0.04"},
        {"arrowsize": "0.6", "color": "#64748b"},
    )
    nodes = sorted(graph["nodes"], key=lambda n: n["id"])
    ids = {node["id"]: f"n{i}" for i, node in enumerate(nodes)}
    focus = graph.get("focus")
    clusters: dict[str, list[dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []
    for node in nodes:
        if cluster_by_owner and node.get("owner"):
            clusters.setdefault(node["owner"], []).append(node)
        else:
            loose.append(node)
    for index, owner in enumerate(sorted(clusters)):
        if spring:
            _team_label(dot, f"t{index}", owner, [ids[node["id"]] for node in clusters[owner]])
            loose += clusters[owner]
            continue
        dot.lines.append(f"\tsubgraph cluster_{index} {{")
        dot.lines.append("\t\tgraph" + _attributes({
            "label": _label(owner), "tooltip": f"owner: {owner}", "style": "rounded,dashed",
            "color": "#94a3b8", "fontcolor": "#334155", "fontsize": "12", "labeljust": "l"}))
        for node in clusters[owner]:
            dot.node(ids[node["id"]], _node_attrs(node, url_for, focus), "\t\t")
        dot.lines.append("\t}")
    for node in sorted(loose, key=lambda n: n["id"]):
        dot.node(ids[node["id"]], _node_attrs(node, url_for, focus))
    for edge in sorted(graph["edges"], key=lambda e: (e["from"], e["to"])):
        if edge["from"] not in ids or edge["to"] not in ids:
            continue
        style = dict(EDGE_STYLE.get(edge["kind"], {}))
        if edge.get("loop"):
            style.update(LOOP_STYLE)
        tooltip = f"{edge['kind']}: {edge['from']} → {edge['to']}"
        dot.edge(ids[edge["from"]], ids[edge["to"]],
                 {"tooltip": tooltip,
                  "class": edge["kind"] + (" loop" if edge.get("loop") else ""), **style})
    return dot.source()


def _team_label(dot: _Dot, node_id: str, owner: str, members: list[str]) -> None:
    """A team's name, tied to its objects by invisible edges (a spring layout draws them
    around it)."""
    dot.node(node_id, {"label": _label(owner), "shape": "plaintext", "fontsize": "22",
                       "fontname": "Helvetica-Bold", "fontcolor": "#64748b",
                       "tooltip": f"team {owner}", "class": "team-label"})
    for member in members:
        dot.edge(node_id, member, {"style": "invis", "weight": "1"})
