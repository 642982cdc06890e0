"""Findings across analysis runs: stable ids, ack and suppress, resolve and reopen, atomic runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Cli
from ops_world import analyze, findings, load_world

import registry.findings.run as analyze_module

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def world(cli: Cli, tmp_path: Path) -> Cli:
    load_world(cli, tmp_path / "world", NOW)
    analyze(cli, NOW)
    return cli


def _by_subject(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["subject"]["name"]): r for r in rows}


def test_findings_json_has_the_design_shape(world: Cli) -> None:
    rows = findings(world)
    assert rows, "the planted world yields findings"
    for row in rows:
        assert {"id", "kind", "subject", "related", "severity", "status", "summary",
                "evidence", "first_seen", "last_seen"} <= row.keys()
        assert set(row["subject"]) == {"type", "name"}
        assert all(set(r) == {"type", "name"} for r in row["related"])
    assert ("legacy", "old_signal") in _by_subject(rows)


def test_a_finding_that_persists_keeps_id_first_seen_and_status(world: Cli) -> None:
    before = _by_subject(findings(world))
    legacy = before[("legacy", "old_signal")]
    assert world("findings", "ack", str(legacy["id"]), "--reason", "removing in Q3").exit_code == 0
    later = NOW + timedelta(days=1)
    analyze(world, later)
    after = _by_subject(findings(world))
    assert after.keys() == before.keys()
    kept = after[("legacy", "old_signal")]
    assert kept["id"] == legacy["id"]
    assert kept["first_seen"] == legacy["first_seen"]
    assert kept["last_seen"] == later.isoformat()
    assert kept["status"] == "acknowledged"
    history = json.loads(world("history", str(legacy["id"]), "--format", "json").output)
    assert history[0]["action"] == "acknowledged" and history[0]["after"]["reason"]


def test_suppression_lasts_until_it_expires(world: Cli) -> None:
    target = _by_subject(findings(world))[("legacy", "old_signal")]
    until = (NOW + timedelta(days=3)).date().isoformat()
    result = world("findings", "suppress", str(target["id"]), "--reason", "known", "--until",
                   until)
    assert result.exit_code == 0, result.output
    analyze(world, NOW + timedelta(days=1))
    assert _by_subject(findings(world))[("legacy", "old_signal")]["status"] == "suppressed"
    analyze(world, NOW + timedelta(days=5))
    reopened = _by_subject(findings(world))[("legacy", "old_signal")]
    assert reopened["status"] == "open" and reopened["id"] == target["id"]


def test_a_cleared_condition_resolves_and_a_returning_one_reopens(world: Cli,
                                                                  tmp_path: Path) -> None:
    target = _by_subject(findings(world))[("legacy", "old_signal")]
    read = tmp_path / "read.jsonl"
    read.write_text(json.dumps({"ts": (NOW - timedelta(hours=1)).isoformat(),
                                "consumer": "ctr_model", "feature": "old_signal"}) + "\n")
    assert world("usage", "ingest", str(read)).exit_code == 0
    analyze(world, NOW + timedelta(hours=1))
    assert ("legacy", "old_signal") not in _by_subject(findings(world))
    resolved = json.loads(world("findings", "--status", "resolved", "--format", "json").output)
    assert [r["id"] for r in resolved if r["subject"]["name"] == "old_signal"] == [target["id"]]
    analyze(world, NOW + timedelta(days=120))  # the read is old again
    back = _by_subject(findings(world))[("legacy", "old_signal")]
    assert back["id"] == target["id"] and back["status"] == "open"


def test_a_crash_mid_run_leaves_the_previous_findings_intact(world: Cli, monkeypatch) -> None:
    before = findings(world)
    real = analyze_module.record_findings

    def record_then_crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)  # writes into the run's transaction ...
        raise RuntimeError("power cut")  # ... which must then roll back as a whole

    monkeypatch.setattr(analyze_module, "record_findings", record_then_crash)
    with pytest.raises(RuntimeError):
        world("analyze", "--now", (NOW + timedelta(days=200)).isoformat())
    monkeypatch.undo()
    assert findings(world) == before


def test_explain_and_closure_speak_of_the_evidence(world: Cli) -> None:
    legacy = _by_subject(findings(world))[("legacy", "old_signal")]
    text = world("explain", str(legacy["id"])).output
    assert "old_signal" in text and legacy["summary"] in text and "evidence" in text
    assert world("explain", "999999").exit_code == 1
    closure = json.loads(world("closure", "ctr_model", "--format", "json").output)
    names = {(n["type"], n["name"]): n for n in closure}
    assert ("source", "warehouse.clicks") in names
    assert names[("feature", "clicks_7d_copy")]["findings"], "the correlated copy is marked"
    assert not names[("feature", "clicks_7d")]["findings"]


def test_filters_and_bad_ids(world: Cli) -> None:
    growth = json.loads(world("findings", "--owner", "growth", "--format", "json").output)
    assert growth and all(r["owner"] == "growth" for r in growth)
    legacy = json.loads(world("findings", "--kind", "legacy", "--format", "json").output)
    assert {r["kind"] for r in legacy} == {"legacy"}
    assert world("findings", "ack", "424242", "--reason", "x").exit_code == 1
    assert world("findings", "ack", "1").exit_code == 2  # --reason is required
