"""The whole detector set on real labelled data sets that ship with scikit-learn.

Each data set becomes a catalog (one source, its columns as features of one explicit bundle,
one consumer that declares and reads them all), a labelled snapshot (so importance is computed
by permutation, with correlated groups), and one `featreg analyze`. Real data has what
synthetic worlds lack: clusters of measurements that say the same thing (radius, perimeter and
area of a tumour), whose importance is real only as a group. DESIGN.md: such members are
redundant (correlated), never worthless (bundled, epsilon, legacy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pytest
import yaml
from sklearn import datasets

from tests.conftest import Cli

NOW = datetime.now(UTC).replace(microsecond=0)
WORTHLESS = {"bundled", "epsilon", "legacy"}

Loader = Callable[..., Any]
DATASETS: dict[str, Loader] = {
    "breast_cancer": datasets.load_breast_cancer,  # 30 measurements, two size clusters
    "wine": datasets.load_wine,  # 13 chemical measurements, 3 classes
    "diabetes": datasets.load_diabetes,  # 10 baseline variables, regression
}


def column(name: str) -> str:
    return "f_" + "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def build_catalog(tmp_path: Path, cli: Cli, dataset: str) -> pd.DataFrame:
    bunch = DATASETS[dataset](as_frame=True)
    frame = bunch.frame.rename(columns={c: column(c) for c in bunch.feature_names})
    features = [column(c) for c in bunch.feature_names]
    created = (NOW - timedelta(days=400)).date().isoformat()
    spec = {
        "teams": [{"name": "clinic", "contact": "ana@example.com"}],
        "sources": [{"name": f"lab.{dataset}", "kind": "table", "owner": "clinic",
                     "description": f"The scikit-learn {dataset} data set."}],
        "features": [{"name": name, "owner": "clinic", "dtype": "float",
                      "description": f"{name} as measured.", "sources": [f"lab.{dataset}"],
                      "bundle": f"{dataset}_measurements", "created": created}
                     for name in features],
        "consumers": [{"name": f"{dataset}_model", "kind": "model", "owner": "clinic",
                       "description": "A model on every measurement.", "features": features}],
    }
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    applied = cli("apply", str(tmp_path / "catalog.yaml"))
    assert applied.exit_code == 0, applied.output
    read_at = (NOW - timedelta(days=1)).isoformat()
    usage = tmp_path / "usage.jsonl"
    usage.write_text("".join(json.dumps({"ts": read_at, "consumer": f"{dataset}_model",
                                         "feature": name, "count": 1000}) + "\n"
                             for name in features))
    ingested = cli("usage", "ingest", str(usage))
    assert ingested.exit_code == 0, ingested.output
    snapshot = tmp_path / f"{dataset}.parquet"
    frame.to_parquet(snapshot)
    added = cli("snapshot", "add", str(snapshot), "--label", "target",
                "--consumer", f"{dataset}_model")
    assert added.exit_code == 0, added.output
    assert "computed importance" in added.output, added.output
    analyzed = cli("analyze")
    assert analyzed.exit_code == 0, analyzed.output
    return frame[features]


def findings(cli: Cli) -> list[dict[str, Any]]:
    listed = cli("findings", "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(listed.output)
    return rows


def clusters(frame: pd.DataFrame, threshold: float = 0.95) -> list[set[str]]:
    pearson = frame.corr().abs()
    spearman = frame.corr(method="spearman").abs()
    graph = nx.Graph()
    names = list(frame.columns)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if max(pearson.loc[a, b], spearman.loc[a, b]) >= threshold:
                graph.add_edge(a, b)
    return [set(c) for c in nx.connected_components(graph)]


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_members_of_a_valuable_cluster_are_never_called_worthless(
        tmp_path: Path, sqlite_url: str, dataset: str) -> None:
    cli = Cli(sqlite_url)
    frame = build_catalog(tmp_path, cli, dataset)
    found = findings(cli)
    by_kind: dict[str, set[str]] = {}
    for row in found:
        by_kind.setdefault(row["kind"], set()).add(row["subject"]["name"])
    # Nothing read every day is legacy; every cluster keeps exactly one member.
    assert "legacy" not in by_kind
    for cluster in clusters(frame):
        assert len(cluster & by_kind.get("correlated", set())) == len(cluster) - 1, cluster
    # A bundled or epsilon member of a cluster is one whose cluster carries no importance
    # as a group either (the evidence says so with figures).
    for row in found:
        if row["kind"] in ("bundled", "epsilon") and row["evidence"]["correlated_cluster"]:
            threshold = row["evidence"]["threshold"]
            assert max(row["evidence"]["cluster_shares"].values()) < threshold, row
    # Members the model really needs are never called worthless.
    valuable = {name for row in found if row["kind"] == "bundled"
                for name in row["evidence"]["valuable_members"]}
    worthless = set().union(*(by_kind.get(kind, set()) for kind in WORTHLESS))
    assert valuable and not valuable & worthless


def test_breast_cancer_size_cluster_is_correlated_not_bundled(
        tmp_path: Path, sqlite_url: str) -> None:
    """The regression that motivated the rule: radius, perimeter and area (mean and worst)
    form one cluster whose group importance is real; each alone adds nothing, because
    permuting one leaves its copies. They were called bundled; they are correlated."""
    cli = Cli(sqlite_url)
    frame = build_catalog(tmp_path, cli, "breast_cancer")
    found = findings(cli)
    bundled = {r["subject"]["name"] for r in found if r["kind"] == "bundled"}
    correlated = {r["subject"]["name"] for r in found if r["kind"] == "correlated"}
    size = next(c for c in clusters(frame) if "f_mean_radius" in c)
    assert {"f_worst_radius", "f_mean_area", "f_worst_perimeter"} <= size
    assert not size & bundled, sorted(size & bundled)
    assert len(size & correlated) == len(size) - 1
