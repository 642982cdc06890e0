"""Snapshots over time and unstable_dependency: synthetic data built for each change of the
definition (seconds → milliseconds must be caught, noise must not), through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Cli

from registry.analysis.stability import compare_profiles, expect_breaks, profile_column

N = 3000
SPEC = """\
teams:
  - {name: growth, contact: growth@example.com}
sources:
  - {name: warehouse.sessions, kind: table, owner: growth}
features:
""" + "".join(f"  - {{name: {n}, owner: growth, dtype: float, sources: [warehouse.sessions]}}\n"
              for n in ("time_on_site_7d", "shifted", "gentle", "nulls", "constant", "noise",
                        "a", "b", "x", "y", "z", "small_ints")) + """\
  - {name: country, owner: growth, dtype: category, sources: [warehouse.sessions]}
  - {name: gentle_country, owner: growth, dtype: category, sources: [warehouse.sessions]}
  - {name: clicks, owner: growth, dtype: int, sources: [warehouse.sessions],
     expect: {min: 0, max: 100, max_null_fraction: 0.05}}
consumers:
  - {name: recommender, kind: model, owner: growth, stage: production,
     features: [time_on_site_7d, country, a, b, x, y, z, clicks]}
  - {name: explorer, kind: notebook, owner: growth, features: [shifted, nulls, constant]}
"""


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def normal(loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
        return rng.normal(loc, scale, N)

    base = normal()
    base2 = normal()
    first = pd.DataFrame({
        "time_on_site_7d": rng.lognormal(4, 1, N),
        "shifted": normal(), "gentle": normal(), "noise": normal(),
        "nulls": np.where(rng.random(N) < 0.01, np.nan, normal()),
        "constant": normal(),
        "a": base, "b": base + normal(0, 0.05),
        "x": base2, "y": base2 + normal(0, 0.05), "z": base2 + normal(0, 0.05),
        "small_ints": rng.integers(0, 5, N).astype(float),
        "country": rng.choice(["DE", "FR", "IT"], N, p=[0.5, 0.3, 0.2]),
        "gentle_country": rng.choice(["DE", "FR", "IT"], N, p=[0.5, 0.3, 0.2]),
        "clicks": rng.integers(0, 100, N).astype(float),
        "not_in_catalog": normal(),
    })
    base3 = normal()
    second = pd.DataFrame({
        "time_on_site_7d": rng.lognormal(4, 1, N) * 1000,  # seconds -> milliseconds
        "shifted": normal(1.2), "gentle": normal(0.05, 1.03), "noise": normal(),
        "nulls": np.where(rng.random(N) < 0.25, np.nan, normal()),
        "constant": np.zeros(N),
        "a": base3, "b": normal(),  # a broken join: the pair falls apart
        "x": base3, "y": base3 + normal(0, 0.05), "z": normal(),  # z leaves its group
        "small_ints": rng.integers(0, 5, N).astype(float),
        "country": rng.choice(["DE", "FR", "DEU"], N, p=[0.4, 0.3, 0.3]),  # re-coded
        "gentle_country": np.where(rng.random(N) < 0.01, "ES",
                                   rng.choice(["DE", "FR", "IT"], N, p=[0.48, 0.32, 0.2])),
        "clicks": np.where(rng.random(N) < 0.05, 250.0, rng.integers(0, 100, N)),
        "not_in_catalog": normal(),
    })
    return first, second


EXPECTED = {
    "time_on_site_7d": {"scale"}, "shifted": {"shift"}, "nulls": {"nulls"},
    "constant": {"constant"}, "country": {"categories"}, "a": {"correlation"},
    "b": {"correlation"}, "z": {"correlation"}, "clicks": {"expect"},
}


def test_profiles_catch_seconds_to_milliseconds_and_let_noise_pass() -> None:
    first, second = _frames()
    changes = compare_profiles(profile_column(first["time_on_site_7d"]),
                               profile_column(second["time_on_site_7d"]))
    scale = next(c for c in changes if c["kind"] == "scale")
    assert 800 < scale["factor"] < 1250 and "unit change" in scale["words"]
    for seed in range(5):
        one, two = _frames(seed)
        for column in ("gentle", "noise", "small_ints", "gentle_country"):
            assert compare_profiles(profile_column(one[column]),
                                    profile_column(two[column])) == [], (seed, column)


def test_expectations() -> None:
    _first, second = _frames()
    profile = profile_column(second["clicks"])
    broken = expect_breaks(profile, {"min": 0, "max": 100})
    assert [b["rule"] for b in broken] == ["max"] and 0.03 < broken[0]["share"] < 0.07
    assert expect_breaks(profile, {"min": 0, "max": 300}) == []


def _write(frames: tuple[pd.DataFrame, pd.DataFrame], folder: Path) -> tuple[Path, Path]:
    first = folder / "first.csv"
    frames[0].to_csv(first, index=False)
    second = folder / "second.parquet"
    frames[1].to_parquet(second, index=False)
    return first, second


def _findings(cli: Cli) -> dict[str, dict[str, Any]]:
    listed = cli("findings", "--kind", "unstable_dependency", "--format", "json")
    assert listed.exit_code == 0, listed.output
    return {f["subject"]["name"]: f for f in json.loads(listed.stdout)}


def test_analyze_finds_each_planted_change_and_nothing_else(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert cli("apply", str(spec)).exit_code == 0
    first, second = _write(_frames(), tmp_path)
    added = cli("snapshot", "add", str(first), "--taken-at", "2026-03-03T09:00:00Z")
    assert added.exit_code == 0, added.output
    assert cli("snapshot", "add", str(second), "--taken-at", "2026-03-17T09:00:00+00:00"
               ).exit_code == 0
    # evidence after --now is ignored: only the first snapshot is taken by then
    assert cli("analyze", "--now", "2026-03-10T00:00:00Z").exit_code == 0
    assert _findings(cli) == {}
    assert cli("analyze", "--now", "2026-03-18T00:00:00Z").exit_code == 0
    found = _findings(cli)
    assert {n: set(f["evidence"]["kinds"]) for n, f in found.items()} == EXPECTED
    unit = found["time_on_site_7d"]
    assert unit["severity"] == "critical"
    assert unit["related"] == [{"type": "consumer", "name": "recommender"}]
    assert "grew ×" in unit["summary"] and "recommender (production)" in unit["summary"]
    assert found["shifted"]["severity"] == "warning"
    assert found["nulls"]["evidence"]["changes"][0]["before"] < 0.02
    pairs = found["z"]["evidence"]["changes"][0]["pairs"]
    assert {p["feature"] for p in pairs} == {"x", "y"}
    explained = cli("explain", str(unit["id"]))
    assert explained.exit_code == 0
    assert "between the snapshots of 2026-03-03 and 2026-03-17" in explained.output
    assert "`recommender` (production)" in explained.output
    from featreg.web import create_app

    web = create_app({"DATABASE_URL": cli.url, "TESTING": True}).test_client()
    health = web.get("/api/v1/data-health").get_json()
    assert health["counts"]["unstable_dependency"] == len(EXPECTED)
    assert "time_on_site_7d" in web.get("/data-health").get_data(as_text=True)
    feature = web.get("/api/v1/features/clicks").get_json()
    assert [h["taken_at"][:10] for h in feature["stats_history"]] == ["2026-03-03",
                                                                      "2026-03-17"]
    page = web.get("/features/clicks").get_data(as_text=True)
    assert "Statistics over time" in page and "stroke-dasharray" in page  # the expectation


@pytest.mark.parametrize(("taken_at", "words"), [
    ("2026-03-03T09:00:00", "no timezone"),
    ("2999-01-01T00:00:00Z", "later than now"),
])
def test_bad_taken_at_is_refused_and_nothing_stored(cli: Cli, tmp_path: Path, taken_at: str,
                                                    words: str) -> None:
    first, _second = _write(_frames(), tmp_path)
    result = cli("snapshot", "add", str(first), "--taken-at", taken_at)
    assert result.exit_code == 1 and words in result.output
    assert json.loads(cli("snapshot", "list", "--format", "json").stdout) == []


def test_duplicate_columns_are_refused_and_unknown_columns_reported(cli: Cli,
                                                                   tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n4,5,6\n")
    result = cli("snapshot", "add", str(twice))
    assert result.exit_code == 1 and "columns named more than once: a" in result.output
    other = tmp_path / "other.csv"
    other.write_text("p,q\n1,2\n3,4\n")
    result = cli("snapshot", "add", str(other))
    assert result.exit_code == 0 and "no column of this snapshot is a feature" in result.output


def test_thresholds_are_analysis_settings(cli: Cli, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A ×1,000 unit change is no scale change for a team that set the ratio above 1,000."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert cli("apply", str(spec)).exit_code == 0
    first, second = _write(_frames(), tmp_path)
    for path, taken in ((first, "2026-03-03T09:00:00Z"), (second, "2026-03-17T09:00:00Z")):
        assert cli("snapshot", "add", str(path), "--taken-at", taken).exit_code == 0
    monkeypatch.setenv("FEATREG_UNSTABLE_SCALE_RATIO", "5000")
    assert cli("analyze", "--now", "2026-03-18T00:00:00Z").exit_code == 0
    kinds = {n: set(f["evidence"]["kinds"]) for n, f in _findings(cli).items()}
    assert "scale" not in kinds.get("time_on_site_7d", set())
    assert kinds["nulls"] == EXPECTED["nulls"]  # the other rules are untouched
    monkeypatch.setenv("FEATREG_UNSTABLE_SCALE_RATIO", "0.5")
    refused = cli("analyze", "--now", "2026-03-18T00:00:00Z")
    assert refused.exit_code != 0 and "FEATREG_UNSTABLE_SCALE_RATIO" in refused.output
