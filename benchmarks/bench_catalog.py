"""Catalog core benchmark: apply, re-apply, plan and lineage on a synthetic 10k-feature catalog.

Runs on SQLite in a temporary folder (and on PostgreSQL with `--pg ADMIN_URL`, in a scratch
database it creates and drops). Prints each figure with its target from issue 2, and ratios
against baselines measured in the same process (raw row inserts, YAML parse with libyaml,
networkx BFS in memory), so figures from different machines can be compared.

    .venv/bin/python benchmarks/bench_catalog.py [--pg postgresql://postgres@127.0.0.1/test]
        [--features 10000] [--edges 30000] [--lineage-runs 9] [--profile OUT.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, insert, select, text
from synthetic_catalog import SyntheticCatalog, generate_catalog, with_changes, write_spec

import registry
from registry.catalog import lineage
from registry.catalog.apply import apply_plan
from registry.catalog.plan import make_plan
from registry.catalog.spec import load_spec
from registry.catalog.state import load_state
from registry.cli import main as featreg
from registry.store import models as m
from registry.store.db import dispose_engine, get_engine, session_factory, session_scope, upgrade


@dataclass
class Figure:
    name: str
    seconds: float
    target: float | None = None
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        return "pass" if self.seconds <= self.target else "FAIL"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@contextmanager
def scratch_databases(backend: str, folder: Path, pg_admin: str | None) -> Iterator[
        Callable[[str], str]]:
    """A factory of fresh, migrated databases; PostgreSQL ones are dropped at the end."""
    created: list[str] = []
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT") if pg_admin else None

    def new(label: str) -> str:
        if backend == "sqlite":
            url = f"sqlite:///{folder / f'{label}.db'}"
        else:
            assert admin is not None and pg_admin is not None
            name = f"featreg_bench_{label}_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            created.append(name)
            url = str(admin.url.set(database=name).render_as_string(hide_password=False))
        upgrade(url)
        return url

    try:
        yield new
    finally:
        if admin is not None:
            for name in created:
                url = str(admin.url.set(database=name).render_as_string(hide_password=False))
                dispose_engine(url)
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(featreg, ["--db", url, "--actor", "bench", *args],
                                catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"featreg {' '.join(args)} failed:\n{result.output[-2000:]}")
    return result.output


def raw_insert_baseline(url: str, synthetic: SyntheticCatalog) -> float:
    """The floor: insert the same rows with executemany, no parsing, validation or plan."""
    spec = synthetic.spec
    now = m.utcnow()
    engine = get_engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(m.Team), [{"name": t["name"], "contact": t.get("contact"),
                                       "description": "", "registered_at": now}
                                      for t in spec["teams"]])
        team = dict(conn.execute(select(m.Team.name, m.Team.id)).all())
        conn.execute(insert(m.Consumer), [{"name": c["name"], "kind": c["kind"],
                                           "owner_id": team[c["owner"]], "description": "",
                                           "registered_at": now} for c in spec["consumers"]])
        consumer = dict(conn.execute(select(m.Consumer.name, m.Consumer.id)).all())
        conn.execute(insert(m.Source), [{"name": s["name"], "kind": s["kind"],
                                         "owner_id": team[s["owner"]],
                                         "description": s.get("description", ""),
                                         "produced_by_id": consumer.get(s.get("produced_by", "")),
                                         "registered_at": now} for s in spec["sources"]])
        source = dict(conn.execute(select(m.Source.name, m.Source.id)).all())
        conn.execute(insert(m.Feature), [{"name": f["name"], "owner_id": team[f["owner"]],
                                          "dtype": f["dtype"], "description": f["description"],
                                          "status": "active", "created": now,
                                          "registered_at": now} for f in spec["features"]])
        feature = dict(conn.execute(select(m.Feature.name, m.Feature.id)).all())
        conn.execute(insert(m.FeatureSource), [
            {"feature_id": feature[f["name"]], "source_id": source[s]}
            for f in spec["features"] for s in f["sources"]])
        conn.execute(insert(m.FeatureDependency), [
            {"feature_id": feature[f["name"]], "depends_on_id": feature[d]}
            for f in spec["features"] for d in f["depends_on"]])
        conn.execute(insert(m.FeatureTag), [{"feature_id": feature[f["name"]], "tag": t}
                                            for f in spec["features"] for t in f["tags"]])
        conn.execute(insert(m.ConsumerFeature), [
            {"consumer_id": consumer[c["name"]], "feature_id": feature[f]}
            for c in spec["consumers"] for f in c["features"]])
    return time.perf_counter() - start


def libyaml_parse_baseline(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # noqa: S506
    return time.perf_counter() - start


def reference_graph(spec: dict[str, list[dict[str, Any]]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for f in spec["features"]:
        graph.add_edges_from((("source", s), ("feature", f["name"])) for s in f["sources"])
        graph.add_edges_from((("feature", d), ("feature", f["name"])) for d in f["depends_on"])
    for c in spec["consumers"]:
        graph.add_edges_from((("feature", f), ("consumer", c["name"])) for f in c["features"])
    for s in spec["sources"]:
        if s.get("produced_by"):
            graph.add_edge(("consumer", s["produced_by"]), ("source", s["name"]))
    return graph


def apply_phases(url: str, paths: list[Path]) -> dict[str, float]:
    """The initial apply split into its phases (the same calls `featreg apply` makes)."""
    phases: dict[str, float] = {}
    phases["parse + validate"], spec = timed(lambda: load_spec(paths))
    sessions = session_factory(url)
    with session_scope(sessions) as session:
        phases["load state"], state = timed(lambda: load_state(session))
        phases["plan"], plan = timed(lambda: make_plan(spec, state))
        phases["write"], _ = timed(lambda: apply_plan(session, plan, actor="bench"))
        start = time.perf_counter()
    phases["commit"] = time.perf_counter() - start
    return phases


def run_backend(backend: str, args: argparse.Namespace, synthetic: SyntheticCatalog,
                folder: Path) -> tuple[list[Figure], list[str]]:
    paths = write_spec(synthetic.spec, folder / "spec")
    write_spec(with_changes(synthetic, 100), folder / "spec_changed")
    figures: list[Figure] = []
    notes: list[str] = []
    profiler = cProfile.Profile() if args.profile else None
    sqlite_target = backend == "sqlite"
    with scratch_databases(backend, folder, args.pg) as new_database:
        raw = raw_insert_baseline(new_database("raw"), synthetic)
        parse_floor = libyaml_parse_baseline(paths)

        url = new_database("catalog")
        if profiler:
            profiler.enable()
        seconds, output = timed(lambda: cli(url, "apply", str(folder / "spec")))
        if profiler:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.{backend}")
        assert "Applied as change set" in output
        figures.append(Figure("initial apply (featreg apply, 10k features)", seconds,
                              10.0 if sqlite_target else None,
                              f"{seconds / raw:.1f}x raw inserts ({raw:.2f} s)"))
        seconds, output = timed(lambda: cli(url, "apply", str(folder / "spec")))
        assert "No changes" in output, output[-500:]
        figures.append(Figure("no-op re-apply", seconds, 3.0 if sqlite_target else None,
                              f"{seconds / parse_floor:.1f}x libyaml parse "
                              f"({parse_floor:.2f} s)"))
        seconds, output = timed(lambda: cli(url, "plan", str(folder / "spec_changed")))
        summary = output.strip().splitlines()[-1]
        figures.append(Figure("plan with 100 changes", seconds, None, summary))

        sessions = session_factory(url)
        runs = []
        for _ in range(args.lineage_runs):
            with session_scope(sessions) as session:
                elapsed, nodes = timed(lambda: lineage.lineage(session, synthetic.hub,
                                                               downstream=True))
            runs.append(elapsed)
        graph = reference_graph(synthetic.spec)
        bfs = statistics.median(timed(lambda: nx.descendants(graph, ("feature", synthetic.hub)))[0]
                                for _ in range(args.lineage_runs))
        expected = nx.descendants(graph, ("feature", synthetic.hub))
        assert {(n.type, n.name) for n in nodes} == expected, "lineage disagrees with networkx"
        median = statistics.median(runs)
        figures.append(Figure(f"lineage of {synthetic.hub} ({len(nodes)} dependents, median "
                              f"of {len(runs)})", median, 0.1 if sqlite_target else None,
                              f"{median / bfs:.0f}x networkx in memory ({bfs * 1000:.2f} ms); "
                              f"runs {min(runs) * 1000:.0f}-{max(runs) * 1000:.0f} ms"))
        seconds, _ = timed(lambda: cli(url, "lineage", synthetic.hub, "--format", "json"))
        figures.append(Figure("featreg lineage (whole command, in-process)", seconds))
        figures += sdk_figures(url, synthetic)

        phases = apply_phases(new_database("phases"), paths)
        notes.append("initial apply by phase: " + ", ".join(
            f"{k} {v:.2f} s" for k, v in phases.items()))
    return figures, notes


def sdk_figures(url: str, synthetic: SyntheticCatalog) -> list[Figure]:
    """One SDK call against the large catalog: it reads only what the call touches (the
    baseline: the whole catalog's state, which such a call read before)."""
    client = registry.connect(url, actor="bench")
    feature = synthetic.spec["features"][len(synthetic.spec["features"]) // 2]
    whole, _ = timed(lambda: load_state(session_factory(url)()))
    register, _ = timed(lambda: client.register_feature(
        "bench_sdk_feature", owner=feature["owner"], dtype="float",
        sources=feature.get("sources", []), depends_on=[feature["name"]]))
    get, fields = timed(lambda: client.get(feature["name"]))
    assert fields["name"] == feature["name"]
    deprecate, _ = timed(lambda: client.deprecate(
        "bench_sdk_feature", sunset=date(2030, 1, 1), reason="bench"))
    return [Figure(f"SDK {what} (one feature)", seconds, None,
                   f"{whole / seconds:.0f}x faster than reading the whole catalog "
                   f"({whole:.2f} s)")
            for what, seconds in (("register_feature", register), ("get", get),
                                  ("deprecate", deprecate))]


def print_table(backend: str, figures: list[Figure], notes: list[str]) -> None:
    print(f"\n{backend}")
    header = f"{'figure':<62} {'measured':>10} {'target':>8} {'':>5}  vs baseline"
    print(header)
    print("-" * len(header))
    for f in figures:
        measured = f"{f.seconds * 1000:.1f} ms" if f.seconds < 1 else f"{f.seconds:.2f} s"
        target = "" if f.target is None else (
            f"{f.target * 1000:.0f} ms" if f.target < 1 else f"{f.target:.0f} s")
        print(f"{f.name:<62} {measured:>10} {target:>8} {f.verdict:>5}  {f.note}")
    for note in notes:
        print(f"  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", metavar="ADMIN_URL",
                        help="also run on PostgreSQL (scratch databases created through it)")
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=30_000)
    parser.add_argument("--lineage-runs", type=int, default=9)
    parser.add_argument("--profile", metavar="OUT",
                        help="cProfile the initial apply into OUT.<backend>")
    args = parser.parse_args()
    if args.pg and args.pg.startswith("postgresql://"):
        args.pg = "postgresql+psycopg://" + args.pg.removeprefix("postgresql://")

    synthetic = generate_catalog(features=args.features, edges=args.edges,
                                 hub_dependents=min(1_000, args.features // 10))
    counts = synthetic.object_counts()
    edges = synthetic.edge_counts()
    print(f"synthetic catalog: {counts}, edges {sum(edges.values()):,} {edges}")
    failed = False
    for backend in ["sqlite"] + (["postgres"] if args.pg else []):
        with tempfile.TemporaryDirectory(prefix=f"featreg-bench-{backend}-") as tmp:
            figures, notes = run_backend(backend, args, synthetic, Path(tmp))
        print_table(backend, figures, notes)
        failed |= any(f.verdict == "FAIL" for f in figures)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
