"""A generated world, how it is built from a planted catalog and its evidence, and its files."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from registry.synthetic.catalog import PlantedCatalog
from registry.synthetic.evidence import generate_importance, generate_snapshot, generate_usage

DEFAULT_NOW = datetime(2026, 11, 16, tzinfo=UTC)
FINDING_KINDS = (
    "legacy", "bundled", "epsilon", "correlated", "undeclared_consumer", "feedback_loop",
    "deprecated_in_use", "undocumented", "underutilized_source",
)


@dataclass(eq=False)
class World:
    """A generated organisation: catalog spec, evidence, and the debts planted in it."""

    spec: dict[str, list[dict[str, Any]]]
    usage: list[dict[str, Any]]
    importance: list[dict[str, Any]]
    snapshot: pd.DataFrame
    snapshot_consumer: str
    truth: dict[str, Any]
    now: datetime = DEFAULT_NOW

    def write(self, directory: str | Path) -> None:
        """Write catalog/*.yaml, usage.jsonl, importance.csv, snapshot.parquet and truth.json."""
        out = Path(directory)
        catalog = out / "catalog"
        catalog.mkdir(parents=True, exist_ok=True)
        for stale in catalog.glob("*.yaml"):
            stale.unlink()
        _dump_yaml(catalog / "teams.yaml", {"teams": self.spec["teams"]})
        for team in self.spec["teams"]:
            part = {section: [item for item in self.spec[section] if item["owner"] == team["name"]]
                    for section in ("sources", "features", "consumers")}
            _dump_yaml(catalog / f"{team['name']}.yaml", {k: v for k, v in part.items() if v})
        with open(out / "usage.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(line) + "\n" for line in self.usage)
        with open(out / "importance.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, ["consumer", "feature", "importance", "method",
                                             "metric", "ts"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.importance)
        self.snapshot.to_parquet(out / "snapshot.parquet", index=False, compression="zstd")
        with open(out / "truth.json", "w", encoding="utf-8") as handle:
            json.dump(_jsonable(self.truth), handle, indent=1, sort_keys=True)
            handle.write("\n")


def generate_world(n_features: int = 150, n_consumers: int = 20, n_teams: int = 5,
                   snapshot_rows: int = 3000, usage_lines: int | None = None, seed: int = 0,
                   now: datetime = DEFAULT_NOW) -> World:
    """Build a deterministic world; `usage_lines` defaults to 50 per feature."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    catalog = PlantedCatalog(n_features, n_consumers, n_teams, seed, now.astimezone(UTC))
    usage_rng, importance_rng, snapshot_rng = (np.random.default_rng(s)
                                               for s in catalog.evidence_seeds)
    return World(
        spec=catalog.spec(),
        usage=generate_usage(catalog, usage_lines or 50 * n_features, usage_rng),
        importance=generate_importance(catalog, importance_rng),
        snapshot=generate_snapshot(catalog, snapshot_rows, snapshot_rng),
        snapshot_consumer=catalog.snapshot_consumer.name,
        truth=catalog.truth(),
        now=catalog.now,
    )


def read_truth(path: str | Path) -> dict[str, Any]:
    """Load truth.json back into sets (feedback loops as tuples) like `World.truth`."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    truth: dict[str, Any] = dict(raw)
    for kind in FINDING_KINDS + ("new_unread",):
        truth[kind] = {tuple(item) if isinstance(item, list) else item for item in raw[kind]}
    truth["undeclared_reads"] = {p: set(v) for p, v in raw["undeclared_reads"].items()}
    return truth


class _CatalogDumper(yaml.SafeDumper):
    """Markdown as literal blocks, name lists inline, mappings as blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    inline = all(isinstance(item, str) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=inline)


_CatalogDumper.add_representer(str, _represent_str)
_CatalogDumper.add_representer(list, _represent_list)


def _dump_yaml(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(data, handle, Dumper=_CatalogDumper, sort_keys=False, allow_unicode=True,
                  width=100, default_flow_style=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
