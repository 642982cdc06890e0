"""Long-lived `dot` processes lay out graph after graph: the same SVG as a run of its own, from
several threads at once, and a process that hangs or dies is replaced without a failed page."""

from __future__ import annotations

import random
import shutil
import subprocess
import threading

import pytest
from featreg.web import graph_process
from featreg.web.graph_process import DotPool, DotTimeout
from featreg.web.graph_render import SvgRenderer, lean_environment

DOT = shutil.which("dot")
pytestmark = pytest.mark.skipif(DOT is None, reason="Graphviz is not installed")


def _graphs(count: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    graphs = []
    for _ in range(count):
        n = rng.randrange(2, 30)
        nodes = "".join(f'\tn{i} [label="node {i} \\\\N <b>" URL="/features/n{i}"]\n'
                        for i in range(n))
        edges = "".join(f"\tn{rng.randrange(n)} -> n{rng.randrange(n)}\n" for _ in range(n))
        graphs.append(f"digraph featreg {{\n{nodes}{edges}}}\n")
    return graphs


def _alone(source: str) -> str:
    assert DOT is not None
    return subprocess.run([DOT, "-Kdot", "-Tsvg"], input=source.encode(), capture_output=True,
                          env=lean_environment(DOT), check=True).stdout.decode()


def test_one_process_draws_graph_after_graph_as_runs_of_their_own() -> None:
    assert DOT is not None
    pool = DotPool(DOT, lean_environment(DOT), size=1)
    try:
        graphs = _graphs(25)
        assert [pool.render(g, 10) for g in graphs] == [_alone(g) for g in graphs]
        assert pool.started == 1
    finally:
        pool.close()


def test_threads_share_the_processes() -> None:
    assert DOT is not None
    pool = DotPool(DOT, lean_environment(DOT), size=2)
    graphs = _graphs(40, seed=2)
    expected = [_alone(g) for g in graphs]
    results: dict[int, str] = {}

    def draw(indexes: range) -> None:
        for i in indexes:
            results[i] = pool.render(graphs[i], 10)

    threads = [threading.Thread(target=draw, args=(range(k, 40, 4),)) for k in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [results[i] for i in range(40)] == expected
        assert pool.started <= 2
    finally:
        pool.close()


def test_a_hung_or_dead_process_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DOT is not None
    pool = DotPool(DOT, lean_environment(DOT), size=1)
    graph = _graphs(1)[0]
    try:
        first = pool.render(graph, 10)
        pool.idle.queue[0].process.kill()  # dies while idle
        assert pool.render(graph, 10) == first  # replaced by a new one
        with pytest.raises(DotTimeout):
            pool.render(graph, 0.0)  # no answer in time: killed
        assert pool.started == 0
        assert pool.render(graph, 10) == first
        monkeypatch.setattr(graph_process, "MAX_GRAPHS", 1)
        pool.render(graph, 10)  # retired after its graph
        assert pool.started == 0 and pool.idle.empty()
    finally:
        pool.close()


def test_the_renderer_falls_back_to_a_run_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the long-lived processes (here: every start fails) pages still get graphs."""
    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("no process for you")

    graph = _graphs(1, seed=3)[0]
    expected = SvgRenderer(cache_size=0).render(graph)
    monkeypatch.setattr(graph_process._Dot, "__init__", broken)
    from featreg.web import graph_render

    monkeypatch.setattr(graph_render, "_pools", {})
    assert SvgRenderer(cache_size=0).render(graph) == expected


def test_a_process_that_fails_in_another_way_is_retired_not_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error while a process draws (say, an answer that is not UTF-8) retires
    it: a process neither returned to the pool nor retired would leave the pool one short
    for good, and with all of them lost every drawing would wait for its timeout."""
    assert DOT is not None
    pool = DotPool(DOT, lean_environment(DOT), size=1)
    graph = _graphs(1)[0]
    first = pool.render(graph, 10)

    def broken(self: object, source: str, timeout: float) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    try:
        with monkeypatch.context() as patched:
            patched.setattr(graph_process._Dot, "render", broken)
            with pytest.raises(UnicodeDecodeError):
                pool.render(graph, 10)
        assert pool.started == 0
        assert pool.render(graph, 10) == first  # a new process, at once
    finally:
        pool.close()
