"""A tiny organisation for the scheduler, report and deprecation-workflow tests, loaded the way
users load one: a YAML file applied with `featreg apply`, usage JSON Lines, an importance CSV
and a data snapshot, then `featreg analyze`.

Planted on purpose (owner in brackets):
- legacy:      old_signal [growth] — created long ago, never read;
- epsilon:     tiny_gain [growth] — read, but 0.2% of ctr_model's importance;
- correlated:  clicks_7d_copy [growth] — r ≈ 0.999 with clicks_7d, which is more important;
- bundled:     ad_b1, ad_b2 [ads] — bundle ads-launch with ad_ctr, which carries it;
- feedback:    ctr_model → ctr_model.scores → score_feedback → ctr_model [ads, growth];
- undeclared:  rogue_job (not registered) reads clicks_7d [growth's feature];
               growth_dash [growth] reads ad_ctr [ads] without declaring it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CATALOG = """
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
  - {name: risk, contact: risk@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, description: "Click log"}
  - {name: ads.events, kind: stream, owner: ads, description: "Ad server beacons"}
  - {name: ctr_model.scores, kind: model_output, owner: ads, produced_by: ctr_model,
     description: "Scores of the CTR model"}
features:
  - {name: clicks_7d, owner: growth, dtype: int, description: "Clicks, 7 days",
     sources: [warehouse.clicks], created: 2026-01-05}
  - {name: clicks_7d_copy, owner: growth, dtype: float, description: "Clicks again",
     sources: [warehouse.clicks], created: 2026-01-06}
  - {name: old_signal, owner: growth, dtype: float, description: "Nobody reads this",
     sources: [warehouse.clicks], created: 2026-01-07}
  - {name: score_feedback, owner: growth, dtype: float, description: "Yesterday's CTR score",
     sources: [ctr_model.scores], created: 2026-01-09}
  - {name: ad_ctr, owner: ads, dtype: float, description: "CTR of the ad", bundle: ads-launch,
     sources: [ads.events], created: 2026-01-10}
  - {name: ad_b1, owner: ads, dtype: float, description: "Launch extra 1", bundle: ads-launch,
     sources: [ads.events], created: 2026-01-10}
  - {name: ad_b2, owner: ads, dtype: float, description: "Launch extra 2", bundle: ads-launch,
     sources: [ads.events], created: 2026-01-10}
consumers:
  - {name: ctr_model, kind: model, owner: ads, produces: [ctr_model.scores],
     features: [clicks_7d, clicks_7d_copy, score_feedback, ad_ctr, ad_b1, ad_b2]}
  - {name: growth_dash, kind: dashboard, owner: growth, features: [clicks_7d]}
  - {name: risk_model, kind: model, owner: risk, features: [clicks_7d]}
"""

LATE_FEATURE = """
features:
  - {name: tiny_gain, owner: growth, dtype: float, description: "Barely useful",
     sources: [warehouse.clicks], created: 2026-01-08}
consumers:
  - {name: ctr_model, kind: model, owner: ads, produces: [ctr_model.scores],
     features: [clicks_7d, clicks_7d_copy, tiny_gain, score_feedback, ad_ctr, ad_b1, ad_b2]}
"""
"""Applied on its own, so tiny_gain is not part of the first apply's change-set bundle."""

IMPORTANCE = {"clicks_7d": 0.30, "clicks_7d_copy": 0.20, "tiny_gain": 0.002,
              "score_feedback": 0.15, "ad_ctr": 0.30, "ad_b1": 0.001, "ad_b2": 0.001}
PLANTED = {"growth": {"old_signal": "legacy", "tiny_gain": "epsilon",
                      "clicks_7d_copy": "correlated"},
           "ads": {"ad_b1": "bundled", "ad_b2": "bundled"},
           "risk": {}}
CONTACTS = {"growth": "growth@example.com", "ads": "ads@example.com",
            "risk": "risk@example.com"}


def _usage(now: datetime) -> list[dict[str, Any]]:
    lines = []
    for day in range(1, 15):
        ts = (now - timedelta(days=day)).astimezone(UTC).isoformat()
        lines.append({"ts": ts, "consumer": "ctr_model", "count": 10,
                      "features": ["clicks_7d", "clicks_7d_copy", "tiny_gain", "score_feedback",
                                   "ad_ctr", "ad_b1", "ad_b2"]})
        lines.append({"ts": ts, "consumer": "growth_dash", "features": ["clicks_7d", "ad_ctr"]})
        lines.append({"ts": ts, "consumer": "risk_model", "feature": "clicks_7d", "count": 2})
        lines.append({"ts": ts, "consumer": "rogue_job", "feature": "clicks_7d", "count": 3})
    return lines


def _snapshot(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    clicks = rng.poisson(20, rows).astype(float)
    frame = pd.DataFrame({
        "clicks_7d": clicks,
        "clicks_7d_copy": clicks * 2.0 + rng.normal(0, 0.01, rows),
        "old_signal": rng.normal(size=rows), "tiny_gain": rng.normal(size=rows),
        "score_feedback": rng.normal(size=rows), "ad_ctr": rng.normal(size=rows),
        "ad_b1": rng.normal(size=rows), "ad_b2": rng.normal(size=rows),
    })
    return frame


def write_world(folder: Path, now: datetime) -> dict[str, Path]:
    """Write the catalog, usage, importance and snapshot files; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"catalog": folder / "catalog.yaml", "late": folder / "late.yaml",
             "usage": folder / "usage.jsonl",
             "importance": folder / "importance.csv", "snapshot": folder / "snapshot.csv"}
    paths["catalog"].write_text(CATALOG, encoding="utf-8")
    paths["late"].write_text(LATE_FEATURE, encoding="utf-8")
    paths["usage"].write_text("".join(json.dumps(line) + "\n" for line in _usage(now)),
                              encoding="utf-8")
    reported = (now - timedelta(days=2)).astimezone(UTC).isoformat()
    paths["importance"].write_text(
        "consumer,feature,importance,method,metric,ts\n" + "".join(
            f"ctr_model,{name},{value},permutation,auc,{reported}\n"
            for name, value in IMPORTANCE.items()), encoding="utf-8")
    _snapshot().to_csv(paths["snapshot"], index=False)
    return paths


def load_world(cli: Any, folder: Path, now: datetime) -> None:
    """Load the world through the `featreg` command (``cli`` is the conftest Cli runner)."""
    paths = write_world(folder, now)
    for args in (("apply", str(paths["catalog"])), ("apply", str(paths["late"])),
                 ("usage", "ingest", str(paths["usage"])),
                 ("importance", "ingest", str(paths["importance"])),
                 ("snapshot", "add", str(paths["snapshot"]))):
        result = cli(*args)
        assert result.exit_code == 0, result.output


def analyze(cli: Any, now: datetime) -> None:
    result = cli("analyze", "--now", now.isoformat())
    assert result.exit_code == 0, result.output


def findings(cli: Any) -> list[dict[str, Any]]:
    result = cli("findings", "--format", "json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))
