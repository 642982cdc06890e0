"""Benchmark: the web UI under concurrent clients, and graph rendering, on a large catalog.

Builds a deterministic catalog of N features (default 20,000) on SQLite — teams, sources,
derived features, consumers with declared feature sets, model outputs read back as features
(feedback loops), daily usage with undeclared readers, importance reports — registers it
through the same plan/apply path as `featreg apply`, records findings on one feature in ten
(as an analysis run records them), then starts `featreg serve` (waitress; --workers
processes, by default one more than the cores as `featreg serve` does, of 8 threads) as a
real server and drives it with C client threads (default 8), each with its own keep-alive
connection:

* catalog search: `/features?q=...` with ~230 distinct queries made of words of feature names;
* feature page: `/features/<name>` of random features, graph and all (cold graphs, then
  cached);
* lineage: `/api/v1/lineage/<name>` of random features (upstream and downstream);
* graph explorer: `/graph?team=...` (each team's part of the catalog, drawn by Graphviz);
* baseline: the stylesheet (`/static/style.css`) under the same load — the server's floor;
* graph rendering: the catalog graph cut at 100, 1,000 and 5,000 nodes, drawn by Graphviz in
  this process (layout chosen as the UI chooses it), and again from the cache; past
  FEATREG_GRAPH_NODE_LIMIT (500) the UI draws the most important part and says what it left
  out.

p50/p95/p99 of each workload (target p95 <= 300 ms at 100,000 features, issue 15).

    python benchmarks/bench_web.py                     # 100,000 features, 8 clients
    python benchmarks/bench_web.py --keep /tmp/web20k.db   # build once, reuse on later runs
    python benchmarks/bench_web.py --workers 1         # one server process (one core)
    python benchmarks/bench_web.py --features 2000 --requests 100     # smoke test

The server's CPU time per request is printed too: unlike latency, it does not depend on
what else the machine is running.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Figure, report  # noqa: E402
from featreg.web.cli import default_workers  # noqa: E402
from featreg.web.graph_dot import build_dot  # noqa: E402
from featreg.web.graph_render import GraphRenderError, SvgRenderer, choose_engine  # noqa: E402
from sqlalchemy import select  # noqa: E402

from registry.analysis.inputs import FindingDraft  # noqa: E402
from registry.catalog.service import apply_spec, spec_from_entries  # noqa: E402
from registry.evidence.importance import store_report  # noqa: E402
from registry.evidence.usage import record_usage  # noqa: E402
from registry.evidence.usage_events import UsageEvent  # noqa: E402
from registry.findings.records import record_findings  # noqa: E402
from registry.read.graph import catalog_graph  # noqa: E402
from registry.store import models as m  # noqa: E402
from registry.store.db import session_factory, session_scope, upgrade  # noqa: E402

NOW = datetime(2026, 11, 16, tzinfo=UTC)
ENTITIES = ["user", "ad", "merchant", "card", "device", "query", "doc", "session", "item",
            "seller", "campaign", "store"]
METRICS = ["clicks", "views", "spend", "refunds", "opens", "latency", "errors", "orders",
           "returns", "dwell", "conversions", "sessions", "revenue", "ratings"]
WINDOWS = ["1d", "7d", "14d", "30d", "90d"]
# searches: single words, word + window, entity + metric, and a miss (~230 distinct queries)
WORDS = (ENTITIES + METRICS + WINDOWS + ["zzzz"]
         + [f"{metric} {window}" for metric in METRICS for window in WINDOWS]
         + [f"{entity} {metric}" for entity in ENTITIES for metric in METRICS[::1]][:120])


def build_catalog(url: str, n_features: int, seed: int = 0) -> list[str]:
    """Register the catalog and its evidence; returns the feature names."""
    rng = random.Random(seed)
    teams = [f"team{i:02d}" for i in range(20)]
    entries: list[tuple[str, dict[str, Any]]] = [
        ("teams", {"name": t, "contact": f"{t}@example.com"}) for t in teams]
    sources = [f"warehouse.table_{i:03d}" for i in range(400)]
    entries += [("sources", {"name": s, "kind": "table", "owner": teams[i % 20],
                             "description": f"Raw table {i}."}) for i, s in enumerate(sources)]
    n_consumers = 300
    consumers = [f"model_{i:03d}" for i in range(n_consumers)]
    outputs = [f"{c}.predictions" for c in consumers[:30]]
    entries += [("sources", {"name": o, "kind": "model_output", "owner": teams[i % 20],
                             "produced_by": consumers[i]}) for i, o in enumerate(outputs)]
    names: list[str] = []
    for i in range(n_features):
        name = (f"{rng.choice(ENTITIES)}_{rng.choice(METRICS)}_{rng.choice(WINDOWS)}_{i:05d}")
        fields: dict[str, Any] = {
            "name": name, "owner": teams[i % 20], "dtype": rng.choice(["int", "float"]),
            "description": f"## {name}\n\nThe {name.replace('_', ' ')} of the entity.\n",
            "sources": [rng.choice(sources)], "tags": rng.sample(METRICS, 2),
            "created": "2025-01-01",
        }
        if names and rng.random() < 0.3:
            fields["depends_on"] = rng.sample(names[-500:], min(2, len(names[-500:])))
        if i < 60:
            fields["sources"] = [outputs[i % len(outputs)]]
        entries.append(("features", fields))
        names.append(name)
    declared: dict[str, list[str]] = {}
    for c in consumers:
        declared[c] = sorted(set(rng.sample(names, rng.randint(20, 200))))
        if c in consumers[:30]:
            declared[c].append(names[consumers.index(c) * 2])
        entries.append(("consumers", {"name": c, "kind": "model", "owner": rng.choice(teams),
                                      "features": sorted(set(declared[c])),
                                      "produces": [f"{c}.predictions"] if c in consumers[:30]
                                      else []}))
    sessions = session_factory(url)
    with session_scope(sessions) as session:
        apply_spec(session, spec_from_entries(entries), actor="bench", label="bench catalog")
    events: list[UsageEvent] = []
    for c in consumers:
        for day in range(0, 60, 3):
            events.append(UsageEvent(NOW - timedelta(days=day, hours=2), c,
                                     tuple(declared[c][:40]), rng.randint(1, 50)))
    for j in range(200):  # undeclared readers
        events.append(UsageEvent(NOW - timedelta(days=j % 30, hours=1), f"notebook_{j % 25}",
                                 (names[j * 7 % len(names)],), 3))
    with session_scope(sessions) as session:
        record_usage(session, events)
        for c in consumers:
            values = {f: rng.random() ** 3 for f in declared[c]}
            store_report(session, c, values, reported_at=NOW - timedelta(days=7))
    record_some_findings(sessions, names, consumers)
    return names


def record_some_findings(sessions: Any, names: list[str], consumers: list[str]) -> None:
    """Findings on one feature in ten and on the feedback-loop models, recorded like an
    analysis run records them (running every detector on this synthetic catalog is not what
    this benchmark measures)."""
    kinds = ["legacy", "epsilon", "undocumented", "correlated", "deprecated_in_use"]
    drafts = [FindingDraft(kind=kinds[i % len(kinds)], subject_type="feature",
                           subject_name=name, summary=f"{kinds[i % len(kinds)]} {name}",
                           evidence={"n": i}) for i, name in enumerate(names[::10])]
    drafts += [FindingDraft(kind="feedback_loop", subject_type="consumer", subject_name=c,
                            summary=f"direct feedback loop through {c}")
               for c in consumers[:30]]
    with session_scope(sessions) as session:
        run = m.AnalysisRun(analysis_time=NOW)
        session.add(run)
        session.flush()
        owners = dict(session.execute(
            select(m.Feature.name, m.Team.name).join(m.Team, m.Team.id == m.Feature.owner_id)
        ).all())
        record_findings(session, drafts, run=run, now=NOW,
                        owners={("feature", n): o for n, o in owners.items()})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, log: Path, workers: int) -> subprocess.Popen[bytes]:
    featreg = Path(sys.executable).with_name("featreg")
    with open(log, "wb") as output:
        # rendered graphs shared by the worker processes (on disk, next to the log)
        env = {**os.environ, "FEATREG_GRAPH_CACHE_DIR": str(log.parent / "graphs")}
        process = subprocess.Popen([str(featreg), "--db", url, "serve", "--port", str(port),
                                    "--threads", "8", "--workers", str(workers)],
                                   stdout=output, stderr=output, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"featreg serve did not start: {log.read_text(errors='replace')}")


def hammer(port: int, paths: list[str], clients: int) -> list[float]:
    """Latencies (seconds) of GETting every path, spread over `clients` keep-alive threads."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    queue = list(reversed(paths))

    def get(conn: http.client.HTTPConnection, path: str) -> int:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
        try:
            while True:
                with lock:
                    if not queue:
                        break
                    path = queue.pop()
                start = time.perf_counter()
                try:
                    status = get(conn, path)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # the server closed the idle keep-alive connection: reconnect, as HTTP
                    # clients do for an idempotent request (the time to reconnect counts)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
                    status = get(conn, path)
                elapsed = time.perf_counter() - start
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                with lock:
                    latencies.append(elapsed)
        except BaseException as error:  # reported by the main thread
            with lock:
                errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; the first: {errors[0]!r}")
    return latencies


def cpu_seconds(pid: int) -> float:
    """CPU time a process, its worker processes and their finished children (Graphviz) have
    used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        total += sum(cpu_seconds(int(c)) for c in children.read_text().split())
    return total


def wait_until_ready(log: Path, workers: int, timeout: float = 300) -> None:
    """Wait until every worker has said it is ready (built its search index in the
    background), so that start-up work is not measured as request latency."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [line for line in log.read_text(errors="replace").splitlines()
                 if " ready: search index" in line]
        if len(ready) >= workers:
            print("\n".join(ready))
            return
        time.sleep(0.2)
    raise RuntimeError(f"the workers did not get ready: {log.read_text(errors='replace')}")


def measured(pid: int, port: int, paths: list[str], clients: int) -> tuple[list[float], float]:
    """Latencies of a workload, and the server's CPU time per request during it."""
    before = cpu_seconds(pid)
    latencies = hammer(port, paths, clients)
    return latencies, (cpu_seconds(pid) - before) / len(paths)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def summary(label: str, result: tuple[list[float], float], target_ms: float | None,
            baseline: float | None = None, figures: list[Figure] | None = None) -> float:
    latencies, cpu = result
    ordered = sorted(latencies)
    p50, p95, p99 = (percentile(ordered, q) for q in (0.5, 0.95, 0.99))
    verdict = "" if target_ms is None else (" OK" if p95 * 1000 <= target_ms else " SLOW")
    ratio = f"  ({p95 / baseline:.1f}x baseline p95)" if baseline else ""
    target = f" target {target_ms:.0f} ms" if target_ms else ""
    print(f"{label:<27} n={len(ordered):4d} p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms"
          f"  p99 {p99 * 1000:6.1f} ms  max {ordered[-1] * 1000:6.1f} ms  server CPU "
          f"{cpu * 1000:5.1f} ms/request{target}{verdict}{ratio}", flush=True)
    if figures is not None:
        figures += [Figure(f"{label} p50", p50), Figure(f"{label} p95", p95, baseline=baseline,
                                                         baseline_name="stylesheet p95",
                                                         target=target_ms and target_ms / 1000),
                    Figure(f"{label} p99", p99, note=f"server CPU {cpu * 1000:.1f} ms/request")]
    return p95


def render_figures(sessions: Any, figures: list[Figure]) -> None:
    """The catalog graph cut at 100, 1,000 and 5,000 nodes, drawn cold and from the cache."""
    renderer = SvgRenderer(cache_size=8)
    for limit in (100, 1_000, 5_000):
        with session_scope(sessions) as session:
            query_s, graph = timed(lambda: catalog_graph(session, limit=limit,  # noqa: B023
                                                         undeclared=False))
        data = graph.to_dict()
        engine = choose_engine(len(data["nodes"]), len(data["edges"]))
        dot = build_dot(data, lambda kind, name: f"/{kind}s/{quote(name, safe='')}",
                        spring=engine == "sfdp")
        start = time.perf_counter()
        try:
            renderer.render(dot, engine)
        except GraphRenderError as exc:  # what the UI shows instead of the drawing
            cold = time.perf_counter() - start
            print(f"graph of {len(data['nodes'])} nodes: refused after {cold:.1f} s: {exc}")
            figures.append(Figure(f"render {len(data['nodes']):,}-node graph ({engine})", cold,
                                  note=f"Graphviz gave up: {exc}"))
            continue
        cold = time.perf_counter() - start
        warm, _ = timed(lambda: renderer.render(dot, engine))  # noqa: B023
        print(f"graph of {len(data['nodes'])} nodes, {len(data['edges'])} edges ({engine}): "
              f"query {query_s * 1000:.0f} ms, Graphviz {cold:.2f} s, cached "
              f"{warm * 1000:.2f} ms", flush=True)
        figures.append(Figure(f"render {len(data['nodes']):,}-node graph ({engine})", cold,
                              target=3.0 if limit <= 1_000 else None,
                              note=f"{len(data['edges']):,} edges; query {query_s:.2f} s; "
                              f"from the cache {warm * 1000:.2f} ms"))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per workload")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="featreg serve --workers (processes sharing the port; default as "
                        "featreg serve's: one more than the cores, at most 4)")
    parser.add_argument("--keep", metavar="FILE", help="build the catalog into this SQLite "
                        "file once and reuse it on later runs")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
          "(other processes on the machine slow every latency figure)")
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.keep) if args.keep else Path(folder) / "bench.db"
        url = f"sqlite:///{path}"
        if path.exists():
            with session_scope(session_factory(url)) as session:
                names = list(session.scalars(select(m.Feature.name).order_by(m.Feature.id)))
            print(f"reusing the catalog of {len(names):,} features in {path}")
        else:
            upgrade(url)
            seconds, names = timed(lambda: build_catalog(url, args.features))
            print(f"catalog of {len(names):,} features built in {seconds:.1f} s")

        sessions = session_factory(url)
        figures: list[Figure] = []
        render_figures(sessions, figures)
        teams = sorted({f"team{i:02d}" for i in range(20)})
        port = free_port()
        log = Path(folder) / "server.log"
        server = start_server(url, port, log, args.workers)
        print(f"featreg serve: {args.workers} worker process(es) x 8 threads")
        try:
            wait_until_ready(log, args.workers)
            try:  # first requests: connections, template caches (not measured)
                hammer(port, ["/features", f"/features/{names[0]}"] * 4 * args.workers,
                       2 * args.workers)
            except RuntimeError as exc:
                print(f"warm-up: {exc} (going on)")
            pid = server.pid
            baseline = summary("baseline (stylesheet)",
                               measured(pid, port, ["/static/style.css"] * args.requests,
                                        args.clients), None)
            searches = [f"/features?q={quote(rng.choice(WORDS))}" for _ in range(args.requests)]
            summary("catalog search", measured(pid, port, searches, args.clients), 300,
                    baseline, figures)
            pages = [f"/features/{rng.choice(names)}" for _ in range(args.requests)]
            summary("feature page (cold graphs)", measured(pid, port, pages, args.clients),
                    300, baseline, figures)
            summary("feature page (cached)", measured(pid, port, pages, args.clients), 300,
                    baseline, figures)
            lineages = [f"/api/v1/lineage/{rng.choice(names)}" for _ in range(args.requests)]
            summary("lineage", measured(pid, port, lineages, args.clients), 300, baseline,
                    figures)
            explorer = [f"/graph?team={rng.choice(teams)}" for _ in range(args.requests)]
            summary("graph explorer", measured(pid, port, explorer, args.clients), 300,
                    baseline, figures)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    report("bench_web.py", figures, features=len(names), clients=args.clients,
           workers=args.workers)
    return 1 if any(f.verdict == "MISS" for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
