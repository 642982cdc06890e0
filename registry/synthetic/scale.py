"""A synthetic organisation at a chosen scale, for benchmarks and scaling curves.

Unlike `generate_world` (a small world with planted debts and their ground truth), this
builds what a large company's catalog looks like in size: N features with an exact number of
edges (feature -> source, feature -> feature `depends_on`, consumer -> feature), teams,
sources, consumers and model outputs, plus 90 days of daily usage rollups (declared reads,
some days skipped, and undeclared readers) and importance reports of the models. It is written
as YAML that `featreg apply` reads, usage as daily-count JSON Lines that `featreg usage ingest`
reads, and importance as the CSV that `featreg importance ingest` reads.

One feature (`hub`) has exactly `hub_dependents` transitive dependent features (a tree below
it that nothing else depends on), so its downstream lineage has a known size: those features
plus the consumers that read them. Model outputs feed the last features, which nothing depends
on; two feedback loops are planted (a hidden one through five models, a direct one), as a
company has a few, not the combinatorial number random wiring gives. Deterministic for a given
seed.

    python -m registry.synthetic.scale OUT_DIR [--features N] [--edges N] [--consumers N]
        [--days 90] [--seed S]
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml

__all__ = [
    "ScaleCatalog",
    "usage_events",
    "generate_catalog",
    "importance_rows",
    "spec_documents",
    "with_changes",
    "write_organisation",
    "write_spec",
]

Entry = dict[str, Any]
Spec = dict[str, list[Entry]]
DTYPES = ("int", "float", "bool", "string", "category", "timestamp", "vector")
USAGE_END = date(2026, 11, 15)  # the last day of usage (the day before the worlds' `now`)
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class ScaleCatalog:
    """A generated catalog spec (the YAML shape of DESIGN.md) and its known lineage hub."""

    spec: Spec
    hub: str  # the feature with `hub_dependents` transitive dependent features
    hub_dependents: int
    seed: int = 0

    def edge_counts(self) -> dict[str, int]:
        features = self.spec["features"]
        return {
            "feature_sources": sum(len(f["sources"]) for f in features),
            "feature_dependencies": sum(len(f["depends_on"]) for f in features),
            "consumer_features": sum(len(c["features"]) for c in self.spec["consumers"]),
        }

    def object_counts(self) -> dict[str, int]:
        return {kind: len(entries) for kind, entries in self.spec.items()}


def _description(rng: random.Random, name: str) -> str:
    words = rng.sample(["clicks", "sessions", "orders", "users", "rolling", "mean", "count",
                        "ratio", "7 days", "30 days", "per user", "per item", "smoothed"], 4)
    return f"**{name}**: {' '.join(words)}.\n\nOwned and documented for the benchmark."


def generate_catalog(
    *, features: int = 10_000, edges: int = 30_000, teams: int = 50, sources: int = 500,
    consumers: int = 300, model_outputs: int = 20, hub_dependents: int = 1_000,
    features_per_consumer: int | None = None, seed: int = 0,
) -> ScaleCatalog:
    """Build the spec; `edges` is the total of the three edge kinds (exact): one source per
    feature, `features_per_consumer` declared features per consumer on average (default: 20,
    or fewer so that they take at most a third of the edges), and `depends_on` edges for the
    rest."""
    if features_per_consumer is None:
        features_per_consumer = max(1, min(20, edges // (3 * consumers)))
    if hub_dependents >= features - 2:
        raise ValueError("hub_dependents must leave room for other features")
    rng = random.Random(seed)
    team_names = [f"team_{i:02d}" for i in range(teams)]
    consumer_names = [f"consumer_{i:04d}" for i in range(consumers)]
    source_names = [f"src.table_{i:04d}" for i in range(sources)]
    producers = consumer_names[:model_outputs]
    output_names = [f"{c}.scores" for c in producers]
    feature_names = [f"f_{i:06d}" for i in range(features)]
    tree = range(1, hub_dependents + 1)  # below feature 0, the hub
    rest_start = hub_dependents + 1

    consumer_edges = consumers * features_per_consumer
    source_edges = features
    dependency_edges = edges - consumer_edges - source_edges
    if dependency_edges < hub_dependents:
        raise ValueError(f"{edges} edges leave too few depends_on edges for the hub's "
                         f"{hub_dependents} dependents")
    if 3 * features_per_consumer > features - rest_start:
        raise ValueError("too many features per consumer for this catalog")

    # the last features are built on model outputs; nothing depends on them, so feedback
    # loops are only the ones planted below, not a combinatorial number of cycles
    out_start = features - 2 * model_outputs
    if out_start <= rest_start + 1:
        raise ValueError("too few features for the model outputs")
    feature_sources = [[rng.choice(source_names)] if i < out_start
                       else [output_names[(i - out_start) % model_outputs]]
                       for i in range(features)]
    depends_on: list[set[int]] = [set() for _ in range(features)]
    for i in tree:
        depends_on[i].add(rng.randrange(0, i))  # a tree: every member reaches the hub
    remaining = dependency_edges - hub_dependents
    while remaining:
        derived = rng.randrange(rest_start + 1, out_start)
        dependency = rng.randrange(rest_start, derived)
        if dependency not in depends_on[derived]:
            depends_on[derived].add(dependency)
            remaining -= 1

    spec: Spec = {
        "teams": [{"name": t, "contact": f"{t}@example.com"} for t in team_names],
        "sources": [{"name": s, "kind": rng.choice(["table", "stream", "file"]),
                     "owner": rng.choice(team_names), "description": f"Raw data {s}"}
                    for s in source_names],
        "features": [],
        "consumers": [],
    }
    spec["sources"] += [{"name": s, "kind": "model_output", "owner": rng.choice(team_names),
                         "produced_by": c} for s, c in zip(output_names, producers, strict=True)]
    for i, name in enumerate(feature_names):
        spec["features"].append({
            "name": name, "owner": rng.choice(team_names), "dtype": rng.choice(DTYPES),
            "description": _description(rng, name), "sources": feature_sources[i],
            "depends_on": [feature_names[d] for d in sorted(depends_on[i])],
            "tags": [f"domain-{i % 17}"],
        })
    ordinary = feature_names[rest_start:out_start]
    sizes = _consumer_sizes(rng, consumers, consumer_edges)
    loop = producers[:5]  # a hidden loop through these models, a direct one through the 6th
    planted = {c: feature_names[out_start + (i + 1) % len(loop)] for i, c in enumerate(loop)}
    if len(producers) > len(loop):
        planted[producers[len(loop)]] = feature_names[out_start + len(loop)]
    for name, size in zip(consumer_names, sizes, strict=True):
        if name in producers:
            chosen = rng.sample(ordinary, size - (name in planted)) + (
                [planted[name]] if name in planted else [])
        else:
            chosen = rng.sample(feature_names, size)
        spec["consumers"].append({
            "name": name, "kind": "model" if name in producers else rng.choice(
                ["model", "service", "job", "dashboard"]),
            "owner": rng.choice(team_names), "features": sorted(chosen),
            **({"produces": [f"{name}.scores"]} if name in producers else {}),
        })
    return ScaleCatalog(spec, feature_names[0], hub_dependents, seed)


def _consumer_sizes(rng: random.Random, consumers: int, total: int) -> list[int]:
    """Sizes between 1 and 3x the mean that add up to `total` exactly."""
    mean = total // consumers
    sizes = [rng.randint(max(1, mean // 4), max(1, mean * 7 // 4)) for _ in range(consumers)]
    diff = total - sum(sizes)
    while diff:
        i = rng.randrange(consumers)
        step = 1 if diff > 0 else -1
        if 1 <= sizes[i] + step <= 3 * max(mean, 1):
            sizes[i] += step
            diff -= step
    return sizes


def with_changes(catalog: ScaleCatalog, changes: int = 100, seed: int = 1) -> Spec:
    """A copy of the spec with `changes` objects created or updated (never the hub's tree)."""
    rng = random.Random(seed)
    spec = {kind: [dict(e) for e in entries] for kind, entries in catalog.spec.items()}
    team_names = [t["name"] for t in spec["teams"]]
    features = spec["features"]
    new = changes // 5
    for k in range(new):
        features.append({"name": f"f_new_{k:03d}", "owner": rng.choice(team_names),
                         "dtype": "float", "sources": [spec["sources"][k]["name"]],
                         "depends_on": [features[-1 - k]["name"]]})
    candidates = range(catalog.hub_dependents + 1, len(features) - new)
    for i, index in enumerate(rng.sample(candidates, changes - new)):
        entry = features[index]
        if i % 2:
            entry["owner"] = next(t for t in team_names if t != entry["owner"])
        else:
            entry["description"] = entry["description"] + "\n\nEdited."
    return spec


def usage_events(catalog: ScaleCatalog, *, days: int = 90, end: date = USAGE_END,
                 read_probability: float = 0.5, undeclared_readers: int = 20,
                 ) -> Iterator[dict[str, Any]]:
    """Usage events (the JSON Lines shape `featreg usage ingest` reads) over `days` days up
    to `end`, one per consumer and day: each consumer reads each declared feature on a day
    with `read_probability`, and `undeclared_readers` notebooks read three features a day
    they never declared. Each (day, feature, consumer) read is one daily rollup row."""
    rng = random.Random(catalog.seed + 1)
    features = [f["name"] for f in catalog.spec["features"]]
    for offset in range(days - 1, -1, -1):
        ts = f"{(end - timedelta(days=offset)).isoformat()}T12:00:00Z"
        for consumer in catalog.spec["consumers"]:
            read = [f for f in consumer["features"] if rng.random() < read_probability]
            if read:
                yield {"ts": ts, "consumer": consumer["name"], "features": read,
                       "count": rng.randint(1, 5_000)}
        for k in range(undeclared_readers):
            yield {"ts": ts, "consumer": f"notebook_{k:03d}", "features": rng.sample(features, 3),
                   "count": rng.randint(1, 20)}


def importance_rows(catalog: ScaleCatalog, *, ts: date = USAGE_END) -> Iterator[dict[str, Any]]:
    """One importance report per model (the CSV shape `featreg importance ingest` reads):
    a few features carry most of the importance, the rest a long tail."""
    rng = random.Random(catalog.seed + 2)
    for consumer in catalog.spec["consumers"]:
        if consumer["kind"] != "model":
            continue
        for feature in consumer["features"]:
            value = rng.random() ** 4
            yield {"consumer": consumer["name"], "feature": feature,
                   "importance": f"{value:.6f}", "method": "permutation", "metric": "auc",
                   "ts": ts.isoformat()}


def spec_documents(spec: Spec, features_per_file: int = 2_000) -> Iterator[tuple[str, str]]:
    """(file name, YAML text): teams, sources, consumers, and features in several files."""
    for kind in ("teams", "sources", "consumers"):
        yield f"{kind}.yaml", yaml.dump({kind: spec[kind]}, Dumper=_YAML_DUMPER, sort_keys=False)
    entries = spec["features"]
    for start in range(0, len(entries), features_per_file):
        chunk = entries[start:start + features_per_file]
        yield (f"features_{start // features_per_file:03d}.yaml",
               yaml.dump({"features": chunk}, Dumper=_YAML_DUMPER, sort_keys=False))


def write_spec(spec: Spec, folder: Path) -> list[Path]:
    """Write the spec as YAML files into `folder` (created); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in spec_documents(spec):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def write_organisation(catalog: ScaleCatalog, folder: Path, *, days: int = 90) -> dict[str, int]:
    """catalog/*.yaml, usage.jsonl (events) and importance.csv; returns the counts of YAML
    files, usage lines, daily rollup rows they make and importance rows written."""
    files = write_spec(catalog.spec, folder / "catalog")
    usage_lines = rollup_rows = 0
    with open(folder / "usage.jsonl", "wb") as handle:
        batch: list[bytes] = []
        for event in usage_events(catalog, days=days):
            rollup_rows += len(event["features"])
            batch.append(orjson.dumps(event))
            if len(batch) >= 100_000:
                handle.write(b"\n".join(batch) + b"\n")
                usage_lines += len(batch)
                batch = []
        if batch:
            handle.write(b"\n".join(batch) + b"\n")
            usage_lines += len(batch)
    columns = ["consumer", "feature", "importance", "method", "metric", "ts"]
    importance = 0
    with open(folder / "importance.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        for row in importance_rows(catalog):
            writer.writerow(row)
            importance += 1
    return {"yaml_files": len(files), "usage_lines": usage_lines, "rollup_rows": rollup_rows,
            "importance_rows": importance}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m registry.synthetic.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=None,
                        help="total edges (default: 3 per feature)")
    parser.add_argument("--consumers", type=int, default=300)
    parser.add_argument("--features-per-consumer", type=int, default=None)
    parser.add_argument("--days", type=int, default=90, help="days of usage rollups (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    catalog = generate_catalog(features=args.features, edges=args.edges or 3 * args.features,
                               consumers=args.consumers, seed=args.seed,
                               features_per_consumer=args.features_per_consumer,
                               hub_dependents=min(1_000, args.features // 10))
    if args.days:
        written = write_organisation(catalog, args.out, days=args.days)
    else:
        written = {"yaml_files": len(write_spec(catalog.spec, args.out / "catalog"))}
    print(f"wrote {args.out}: {catalog.object_counts()}, edges {catalog.edge_counts()}, "
          f"hub {catalog.hub}, {written}")


if __name__ == "__main__":
    main()
