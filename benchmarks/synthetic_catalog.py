"""A synthetic catalog spec for benchmarks: 10,000 features and 30,000 edges by default.

Edges are feature -> source, feature -> feature (`depends_on`) and consumer -> feature. One
feature (`hub`) has exactly `hub_dependents` transitive dependent features (a tree below it
that nothing else depends on), so its downstream lineage has a known size: those features plus
the consumers that read them. Model outputs are read only outside that tree, so feedback loops
exist elsewhere without inflating the hub's lineage. Deterministic for a given seed.

    python benchmarks/synthetic_catalog.py OUT_DIR [--features N] [--edges N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Entry = dict[str, Any]
Spec = dict[str, list[Entry]]
DTYPES = ("int", "float", "bool", "string", "category", "timestamp", "vector")


@dataclass(frozen=True)
class SyntheticCatalog:
    spec: Spec
    hub: str  # the feature with `hub_dependents` transitive dependent features
    hub_dependents: int

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
    consumers: int = 300, model_outputs: int = 20, hub_dependents: int = 1_000, seed: int = 0,
) -> SyntheticCatalog:
    """Build the spec; `edges` is the total of the three edge kinds (exact)."""
    if hub_dependents >= features - 2:
        raise ValueError("hub_dependents must leave room for other features")
    rng = random.Random(seed)
    team_names = [f"team_{i:02d}" for i in range(teams)]
    consumer_names = [f"consumer_{i:03d}" for i in range(consumers)]
    source_names = [f"src.table_{i:03d}" for i in range(sources)]
    producers = consumer_names[:model_outputs]
    output_names = [f"{c}.scores" for c in producers]
    feature_names = [f"f_{i:05d}" for i in range(features)]
    tree = range(1, hub_dependents + 1)  # below feature 0, the hub
    rest_start = hub_dependents + 1

    consumer_edges = consumers * 20
    source_edges = features
    dependency_edges = edges - consumer_edges - source_edges
    if dependency_edges < hub_dependents:
        raise ValueError("too few edges for the hub's dependents")

    feature_sources: list[list[str]] = []
    for i in range(features):
        readable = source_names if i <= hub_dependents else source_names + output_names
        feature_sources.append([rng.choice(readable)])
    depends_on: list[set[int]] = [set() for _ in range(features)]
    for i in tree:
        depends_on[i].add(rng.randrange(0, i))  # a tree: every member reaches the hub
    remaining = dependency_edges - hub_dependents
    while remaining:
        derived = rng.randrange(rest_start + 1, features)
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
        entry: Entry = {
            "name": name, "owner": rng.choice(team_names), "dtype": rng.choice(DTYPES),
            "description": _description(rng, name), "sources": feature_sources[i],
            "depends_on": [feature_names[d] for d in sorted(depends_on[i])],
            "tags": [f"domain-{i % 17}"],
        }
        spec["features"].append(entry)
    outside_tree = feature_names[rest_start:]
    sizes = _consumer_sizes(rng, consumers, consumer_edges)
    for name, size in zip(consumer_names, sizes, strict=True):
        pool = outside_tree if name in producers else feature_names
        spec["consumers"].append({
            "name": name, "kind": "model" if name in producers else rng.choice(
                ["model", "service", "job", "dashboard"]),
            "owner": rng.choice(team_names), "features": sorted(rng.sample(pool, size)),
            **({"produces": [f"{name}.scores"]} if name in producers else {}),
        })
    return SyntheticCatalog(spec, feature_names[0], hub_dependents)


def _consumer_sizes(rng: random.Random, consumers: int, total: int) -> list[int]:
    """Sizes between 1 and 3x the mean that add up to `total` exactly."""
    mean = total // consumers
    sizes = [rng.randint(max(1, mean // 4), mean * 7 // 4) for _ in range(consumers)]
    diff = total - sum(sizes)
    while diff:
        i = rng.randrange(consumers)
        step = 1 if diff > 0 else -1
        if 1 <= sizes[i] + step <= 3 * mean:
            sizes[i] += step
            diff -= step
    return sizes


def with_changes(catalog: SyntheticCatalog, changes: int = 100, seed: int = 1) -> Spec:
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


def spec_documents(spec: Spec, features_per_file: int = 2_000) -> Iterator[tuple[str, str]]:
    """(file name, YAML text): teams, sources, consumers, and features in several files."""
    for kind in ("teams", "sources", "consumers"):
        yield f"{kind}.yaml", yaml.safe_dump({kind: spec[kind]}, sort_keys=False)
    entries = spec["features"]
    for start in range(0, len(entries), features_per_file):
        chunk = entries[start:start + features_per_file]
        yield (f"features_{start // features_per_file:02d}.yaml",
               yaml.safe_dump({"features": chunk}, sort_keys=False))


def write_spec(spec: Spec, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in spec_documents(spec):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    catalog = generate_catalog(features=args.features, edges=args.edges, seed=args.seed)
    paths = write_spec(catalog.spec, args.out)
    print(f"wrote {len(paths)} files to {args.out}: {catalog.object_counts()}, "
          f"edges {catalog.edge_counts()}, hub {catalog.hub}")


if __name__ == "__main__":
    main()
