"""Drawing graphs: deterministic DOT, the SVG cache, the layout engine choice and fallback,
and links that match the app's routes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from featreg.web import create_app
from featreg.web.filters import object_url
from featreg.web.graph_dot import build_dot
from featreg.web.graph_render import SvgRenderer, choose_engine, dot_key
from flask import url_for


def sample_graph(n: int = 12) -> dict[str, Any]:
    nodes = [{"id": f"feature:f{i}", "type": "feature", "name": f"f{i}",
              "owner": f"team{i % 3}", "status": ["active", "deprecated", "retired"][i % 3],
              "registered": True, "findings": ["legacy"] if i % 4 == 0 else [],
              "severity": "warning" if i % 4 == 0 else None, "loop": False}
             for i in range(n)]
    nodes.append({"id": "source:s", "type": "source", "name": "s", "owner": "team0",
                  "status": None, "registered": True, "findings": [], "severity": None,
                  "loop": False})
    edges = [{"from": "source:s", "to": "feature:f0", "kind": "source", "loop": False}]
    edges += [{"from": f"feature:f{i}", "to": f"feature:f{i + 1}", "kind": "depends",
               "loop": False} for i in range(n - 1)]
    return {"nodes": nodes, "edges": edges, "focus": "feature:f0"}


def links(kind: str, name: str) -> str:
    return f"/{kind}s/{name}"


def test_dot_is_the_same_whatever_the_input_order() -> None:
    graph = sample_graph()
    shuffled = {**graph, "nodes": list(graph["nodes"]), "edges": list(graph["edges"])}
    random.Random(3).shuffle(shuffled["nodes"])
    random.Random(4).shuffle(shuffled["edges"])
    assert build_dot(graph, links) == build_dot(shuffled, links)
    assert "cluster_0" in build_dot(graph, links)
    assert "cluster_" not in build_dot(graph, links, cluster_by_owner=False)


def test_rendered_svg_is_cached_in_memory_and_on_disk(tmp_path: Path) -> None:
    source = build_dot(sample_graph(), links)
    renderer = SvgRenderer(cache_size=2, cache_dir=tmp_path)
    first = renderer.render(source)
    assert renderer.render(source) == first
    hits, misses, _size, _current = renderer.cache_info()
    assert (hits, misses) == (1, 1)
    assert (tmp_path / f"{dot_key(source)}.svg").read_text(encoding="utf-8") == first
    fresh = SvgRenderer(cache_size=2, cache_dir=tmp_path)  # another process, same folder
    assert fresh.render(source) == first
    assert 'xlink:href="/features/f3"' in first and "f11" in first


def test_engine_choice_and_fallback_when_dot_is_too_slow() -> None:
    assert choose_engine(50, 60) == "dot"
    assert choose_engine(500, 1500) == "sfdp"
    assert choose_engine(200, 5000) == "sfdp"
    source = build_dot(sample_graph(), links)
    svg = SvgRenderer(dot_timeout=1e-6).render(source, "dot")  # dot cannot finish in time
    assert svg.startswith("<svg") and ">f7</text>" in svg
    assert svg == SvgRenderer().render(source, "sfdp")


@pytest.mark.parametrize("kind,endpoint,arg", [
    ("feature", "catalog.feature", "name"), ("source", "objects.source", "name"),
    ("consumer", "objects.consumer", "name"), ("team", "objects.team", "name"),
])
def test_object_links_match_the_routes(kind: str, endpoint: str, arg: str,
                                       sqlite_url: str) -> None:
    app = create_app({"DATABASE_URL": sqlite_url})
    names = ["plain_name", "dotted.name-1", "ünï", 'q"<x>'] + (
        ["ns/job name"] if kind == "consumer" else [])
    with app.test_request_context("/"):
        for name in names:
            assert object_url(kind, name) == url_for(endpoint, **{arg: name})
            adapter = app.url_map.bind("localhost")
            assert adapter.match(unquote(object_url(kind, name)))[1] == {arg: name}
    with app.test_request_context("/"):
        assert object_url("finding", 12) == url_for("findings.finding", finding_id=12)


def _edges(graph: dict[str, Any], kind: str | None = None) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in graph["edges"]
            if (e["kind"] == kind if kind else e["loop"])}


def test_the_explorer_keeps_every_undeclared_read_and_loop_whatever_the_limit(
        catalog_url: str) -> None:
    from registry.read.graph import catalog_graph
    from registry.store.db import session_factory, session_scope

    with session_scope(session_factory(catalog_url)) as session:
        everything = catalog_graph(session, limit=10_000).to_dict()
        small = catalog_graph(session, limit=10).to_dict()
        team = catalog_graph(session, team="ads", depth=1, limit=10).to_dict()
    undeclared, loops = _edges(everything, "undeclared"), _edges(everything)
    assert undeclared and loops and not everything["truncated"]
    assert _edges(small, "undeclared") == undeclared and _edges(small) == loops
    assert small["truncated"] and small["available"] == len(everything["nodes"])
    left = small["left_out"]
    assert sum(left.get(kind, 0) for kind in ("feature", "source", "consumer")) == (
        len(everything["nodes"]) - len(small["nodes"]))
    assert small["warnings"] == {"undeclared": len(undeclared), "loop_edges": len(loops)}
    # one team's part: its loop and the undeclared reads of what it owns or reads
    assert _edges(team) == loops
    assert ("feature:user_clicks_7d", "consumer:<script>alert(\"xss-principal\")</script>") in (
        _edges(team, "undeclared") | _edges(small, "undeclared"))


def test_warned_objects_come_before_the_rest(catalog_url: str) -> None:
    from registry.read.graph import catalog_graph
    from registry.store.db import session_factory, session_scope

    with session_scope(session_factory(catalog_url)) as session:
        everything = catalog_graph(session, limit=10_000).to_dict()
        must = catalog_graph(session, limit=1).to_dict()
        warned = [n["id"] for n in everything["nodes"]
                  if n["severity"] in ("critical", "warning") and n["id"] not in
                  {m["id"] for m in must["nodes"]}]
        assert warned, "the fixture has warnings beyond the undeclared reads and the loop"
        one_more = catalog_graph(session, limit=len(must["nodes"]) + 1).to_dict()
    added = {n["id"] for n in one_more["nodes"]} - {n["id"] for n in must["nodes"]}
    assert added and added <= set(warned)
    assert one_more["left_out"]["warned"] == must["left_out"]["warned"] - 1


def test_spring_layout_groups_teams_around_labels() -> None:
    graph = sample_graph()
    graph["nodes"][1]["health"] = ["unstable"]
    graph["edges"].append({"from": "feature:f0", "to": "feature:f2", "kind": "undeclared",
                           "loop": True})
    spring = build_dot(graph, links, spring=True)
    assert "cluster_" not in spring
    assert spring.count('class="team-label"') == 3 and 'style="invis"' in spring
    assert 'class="feature health-unstable"' in spring and "#fbcfe8" in spring
    assert 'class="undeclared loop"' in spring
    svg = SvgRenderer().render(spring, "sfdp")
    assert svg.count('class="node team-label"') == 3 and 'class="edge undeclared loop"' in svg
    assert svg.count('class="node feature') == 12


def test_explorer_focus_and_what_it_says_about_the_cut(app: Any) -> None:
    web = app.test_client()
    page = web.get("/graph?focus=feature:user_clicks_7d&depth=1").get_data(as_text=True)
    assert "Focused on feature" in page and 'class="node feature focus' in page
    assert web.get("/graph?focus=user_clicks_7d").status_code == 200  # a bare name
    missing = web.get("/graph?focus=no_such_thing").get_data(as_text=True)
    assert "banner-warning" in missing and "no_such_thing" in missing
    cut = web.get("/graph?limit=10").get_data(as_text=True)
    assert "Left out by the node limit" in cut and "Every undeclared read" in cut
    data = web.get("/api/v1/graph?limit=10").get_json()
    assert data["truncated"] and set(data["left_out"]) >= {"feature", "warned"}


def test_the_explorer_shows_new_undeclared_reads_after_an_analysis(app: Any,
                                                                   catalog_url: str) -> None:
    from web_catalog import NOW

    from registry.evidence.usage import record_usage
    from registry.evidence.usage_events import UsageEvent
    from registry.findings.run import run_analysis
    from registry.store.db import session_factory, session_scope

    web = app.test_client()
    reader = ("feature:user_clicks_30d", "consumer:late_reader")
    assert reader not in _edges(web.get("/api/v1/graph?limit=10").get_json(), "undeclared")
    sessions = session_factory(catalog_url)
    with session_scope(sessions) as session:
        record_usage(session, [UsageEvent(NOW, "late_reader", ("user_clicks_30d",), 2)])
    with session_scope(sessions) as session:
        run_analysis(session, now=NOW)
    assert reader in _edges(web.get("/api/v1/graph?limit=10").get_json(), "undeclared")


def test_a_warming_worker_draws_every_teams_explorer_view(app: Any) -> None:
    """warm_up draws the default explorer and each team's default view, so that a team's
    first view after a deploy is served from what the worker already holds."""
    import threading

    from featreg.web.support import db
    from featreg.web.views_catalog import warm_up
    from sqlalchemy import select

    from registry.store import models as m

    ready = threading.Event()
    warm_up(app, say=lambda message: ready.set() if "ready" in message else None)
    assert ready.wait(60)
    held = app.extensions["featreg_memo"]
    with app.test_request_context("/"):
        teams = [t for (t,) in db().execute(select(m.Team.name))]
    assert teams and all(any(key.startswith(f"catalog_graph {team!r}") for key in held)
                         for team in teams)


def test_a_warming_worker_serves_a_feature_page_and_opens_its_connections(app: Any) -> None:
    """Before it says it is ready, a worker serves one feature page (its imports, templates
    and a `dot` process: a third of a second that the first request under load paid while
    every other request of the worker waited) and opens the connections its slots use."""
    import threading

    from featreg.web.support import db
    from featreg.web.views_catalog import WARM_CONNECTIONS, warm_up
    from sqlalchemy import select

    from registry.store import models as m

    renderer = app.extensions["featreg_svg"]
    renderer.clear()
    with app.test_request_context("/"):
        engine = db().get_bind().engine
        first = db().scalar(select(m.Feature.name).order_by(m.Feature.id).limit(1))
    engine.dispose()
    ready = threading.Event()
    warm_up(app, say=lambda message: ready.set() if "ready" in message else None)
    assert ready.wait(60)
    assert engine.pool.checkedin() >= WARM_CONNECTIONS  # type: ignore[attr-defined]
    hits, misses, _, _ = renderer.cache_info()
    assert app.test_client().get(f"/features/{first}").status_code == 200
    assert renderer.cache_info()[:2] == (hits + 1, misses)  # its graph was drawn already


def test_each_worker_reads_usage_again_at_its_own_moment(monkeypatch: Any) -> None:
    """Workers re-read usage once per REFRESH_SECONDS, each at its own offset, so a server's
    workers never all pass over the rollups at the same moment."""
    from featreg.web import views_lists

    now = 1_000_000.0
    monkeypatch.setattr(views_lists.time, "time", lambda: now)
    monkeypatch.setattr(views_lists, "_phases", {})
    first = views_lists.refresh_period()
    now += views_lists.REFRESH_SECONDS
    assert views_lists.refresh_period() == first + 1
    phases = set()
    for pid in range(40):
        monkeypatch.setattr(views_lists.os, "getpid", lambda pid=pid: pid)
        views_lists.refresh_period()
        phases.add(views_lists._phases[pid])
    assert len(phases) == 40
    assert all(0 <= p < views_lists.REFRESH_SECONDS for p in phases)
