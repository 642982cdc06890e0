"""Load the demo organisation of seeds/ into a fresh database and analyse it.

seeds/demo.json names the analysis time the seeds were generated for (their usage events
end there) and the consumer whose labelled snapshot yields computed importance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from registry.catalog.service import apply_spec
from registry.catalog.spec import load_spec
from registry.core.timeparse import parse_time
from registry.evidence.importance import ingest_importance_csv
from registry.evidence.snapshots import add_snapshot
from registry.evidence.usage import ingest_usage_file
from registry.findings.run import AnalysisResult, run_analysis
from registry.store.db import get_engine, session_factory, session_scope, upgrade

SEEDS = Path(str(files("featreg.seeds")))
Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoManifest:
    analysis_time: datetime
    snapshot_consumer: str
    label: str = "label"

    @classmethod
    def read(cls, seeds: Path) -> DemoManifest:
        data = json.loads((seeds / "demo.json").read_text(encoding="utf-8"))
        moment = parse_time(data["analysis_time"], assume_utc=True)
        return cls(moment, data["snapshot_consumer"], data.get("label", "label"))


def fresh_sqlite(url: str) -> None:
    """Remove an existing SQLite demo database file (the demo always starts afresh)."""
    engine = get_engine(url)
    path = engine.url.database
    engine.dispose()
    if engine.url.get_backend_name() == "sqlite" and path and path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


def load_demo(url: str, *, seeds: Path = SEEDS, say: Say = lambda _m: None,
              actor: str = "demo") -> AnalysisResult:
    """Schema, catalog, usage, importance, snapshot, then one analysis run."""
    manifest = DemoManifest.read(seeds)
    say("creating the schema")
    upgrade(url)
    with session_scope(session_factory(url)) as session:  # the demo lands whole or not at all
        say("applying seeds/catalog")
        apply_spec(session, load_spec([seeds / "catalog"]), actor=actor,
                   now=manifest.analysis_time)
        say("ingesting usage events")
        ingest_usage_file(session, seeds / "usage.jsonl", actor=actor)
        say("ingesting importance reports")
        ingest_importance_csv(session, seeds / "importance.csv", actor=actor,
                              now=manifest.analysis_time)
        say("registering the data snapshot (statistics, correlations, computed importance)")
        add_snapshot(session, seeds / "snapshot.parquet", label=manifest.label,
                     consumer=manifest.snapshot_consumer, actor=actor)
        say(f"analysing as of {manifest.analysis_time.isoformat()}")
        return run_analysis(session, now=manifest.analysis_time, progress=say)
