"""Usage ingestion: summary, daily rollups and windows against a pandas reference computed from
the raw events, idempotent re-ingest, rejected lines, unknown features and principals, SDK."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from registry.evidence import rollups, usage
from registry.sdk.client import Client
from registry.store.db import session_factory, session_scope

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
FEATURES = ["clicks_7d", "age", "country"]
BAD_LINES = {
    5: ("not json at all", "not valid JSON"),
    11: ('{"ts": "2026-11-01T10:00:00", "consumer": "ctr", "feature": "age"}', "no timezone"),
    17: ('{"ts": "2026-11-01T10:00:00Z", "consumer": "ctr", "features": []}', "non-empty list"),
    23: ('{"ts": "2026-11-01T10:00:00Z", "consumer": "ctr", "feature": "age", "count": 0}',
         "count"),
    29: ('["a", "list"]', "not a JSON object"),
    31: ('{"ts": "2026-11-01T10:00:00Z", "feature": "age"}', "consumer"),
}


def _catalog(client: Client) -> None:
    with client.batch():
        client.register_team("growth", contact="growth@example.com")
        for name in FEATURES:
            client.register_feature(name, owner="growth", dtype="float", description="x")
        client.register_consumer("ctr", kind="model", owner="growth",
                                 features=["clicks_7d", "age"])


def _events(seed: int, n: int) -> list[dict[str, object]]:
    """Random events over ~120 days before NOW (and a few after), mixed offsets and shapes."""
    rng = random.Random(seed)
    principals = ["ctr", "ctr", "ctr", "batch_job", "notebook_x"]
    names = [*FEATURES, "ghost_feature"]
    events = []
    for _ in range(n):
        moment = NOW - timedelta(seconds=rng.randint(-3 * 3600, 120 * 86400))
        offset = timezone(timedelta(hours=rng.choice([0, 2, -5, 9])))
        ts = moment.astimezone(offset).isoformat()
        if offset.utcoffset(None) == timedelta(0) and rng.random() < 0.5:
            ts = ts.replace("+00:00", "Z")
        event: dict[str, object] = {"ts": ts, "consumer": rng.choice(principals)}
        if rng.random() < 0.5:
            event["feature"] = rng.choice(names)
        else:
            event["features"] = rng.sample(names, rng.randint(1, 3))
        if rng.random() < 0.6:
            event["count"] = rng.randint(1, 5)
        events.append(event)
    return events


def _write(path: Path, events: list[dict[str, object]], bad: dict[int, tuple[str, str]]) -> None:
    lines, good = [], iter(events)
    for number in range(1, len(events) + len(bad) + 1):
        lines.append(bad[number][0] if number in bad else json.dumps(next(good)))
    path.write_text("\n".join(lines) + "\n")


def _reference(events: list[dict[str, object]]) -> pd.DataFrame:
    """One row per (event, feature) with UTC time, day and count: the hand-check."""
    rows = []
    for e in events:
        names = [e["feature"]] if "feature" in e else list(dict.fromkeys(e["features"]))
        ts = pd.Timestamp(str(e["ts"]).replace("Z", "+00:00")).tz_convert("UTC")
        for name in names:
            rows.append({"ts": ts, "day": ts.date(), "feature": name,
                         "principal": e["consumer"], "count": int(e.get("count", 1))})
    return pd.DataFrame(rows)


def _stored(url: str) -> pd.DataFrame:
    with session_scope(session_factory(url)) as session:
        rows = rollups.daily_reads(session)
    return pd.DataFrame([r.__dict__ for r in rows])


def _expected_daily(ref: pd.DataFrame) -> pd.DataFrame:
    return (ref.groupby(["day", "feature", "principal"], as_index=False)["count"].sum()
            .rename(columns={"count": "reads"}).sort_values(["day", "feature", "principal"])
            .reset_index(drop=True))


def test_summary_rollups_windows_and_rejected_lines_match_the_events(
        client, cli, tmp_path, db_url):
    _catalog(client)
    events = _events(seed=1, n=400)
    path = tmp_path / "usage.jsonl"
    _write(path, events, BAD_LINES)

    result = cli("usage", "ingest", str(path))
    assert result.exit_code == 0, result.output
    assert f"{len(events)} events taken, {len(BAD_LINES)} rejected: see featreg usage rejected" \
        in result.output
    ref = _reference(events)
    ghost_reads = int(ref.loc[ref.feature == "ghost_feature", "count"].sum())
    assert f"{ghost_reads:,} reads of 1 feature not in the catalog: ghost_feature" in result.output
    assert "batch_job, notebook_x" in result.output

    stored = _stored(db_url)
    pd.testing.assert_frame_equal(stored, _expected_daily(ref), check_dtype=False)

    with session_scope(session_factory(db_url)) as session:
        usage_by_feature = rollups.feature_usage(session, NOW)
        reads = rollups.principal_reads(session, NOW, window_days=30)
    today = NOW.date()
    for name in [*FEATURES, "ghost_feature"]:
        mine = ref[(ref.feature == name) & (ref.day <= today)]
        got = usage_by_feature[name]
        for days, value in ((7, got.reads_7d), (30, got.reads_30d), (90, got.reads_90d)):
            assert value == mine.loc[mine.day > today - timedelta(days=days), "count"].sum()
        assert got.readers == mine.principal.nunique()
        recent = mine.loc[mine.day > today - timedelta(days=90)]
        assert got.readers_90d == recent.principal.nunique()
        assert got.last_read == min(mine.ts.max().to_pydatetime(), NOW)
        assert got.in_catalog == (name in FEATURES)

    expected = {}
    for (principal, feature), group in ref[ref.day <= today].groupby(["principal", "feature"]):
        in_window = group.loc[group.day > today - timedelta(days=30), "count"].sum()
        expected[(principal, feature)] = (in_window, min(group.ts.max().to_pydatetime(), NOW))
    assert {(r.principal, r.feature): (r.reads, r.last_read) for r in reads} == expected
    declared = {(r.principal, r.feature) for r in reads if r.declared}
    assert declared == {("ctr", "clicks_7d"), ("ctr", "age")}
    assert {r.principal for r in reads if not r.registered} == {"batch_job", "notebook_x"}

    listed = json.loads(cli("usage", "rejected", "--format", "json").output)
    assert [r["line_number"] for r in listed] == sorted(BAD_LINES)
    for row in listed:
        text, reason = BAD_LINES[row["line_number"]]
        assert row["raw"] == text
        assert reason in row["reason"]
        assert row["source"] == str(path)


def test_reingest_of_the_same_content_adds_nothing_and_a_grown_file_adds_its_tail(
        client, cli, tmp_path, db_url):
    _catalog(client)
    events = _events(seed=3, n=300)
    path = tmp_path / "usage.jsonl"
    _write(path, events[:200], {})
    assert cli("usage", "ingest", str(path)).exit_code == 0
    once = _stored(db_url)

    again = cli("usage", "ingest", str(path))
    assert "Nothing new" in again.output
    piped = cli("usage", "ingest", "-", input=path.read_text())
    assert "Nothing new" in piped.output
    pd.testing.assert_frame_equal(_stored(db_url), once)

    with path.open("a") as file:  # the log grows: 100 more events and one bad line
        file.write("\n".join(json.dumps(e) for e in events[200:]) + "\n{oops\n")
    grown = cli("usage", "ingest", str(path))
    assert "Lines 1-200 were already ingested; took lines 201-301." in grown.output
    assert "100 events taken, 1 rejected" in grown.output
    pd.testing.assert_frame_equal(_stored(db_url), _expected_daily(_reference(events)),
                                  check_dtype=False)
    listed = json.loads(cli("usage", "rejected", "--format", "json").output)
    assert [r["line_number"] for r in listed] == [301]

    other = tmp_path / "other.jsonl"  # same events, arranged differently: counted again
    _write(other, list(reversed(events[:10])), {})
    assert "10 events taken" in cli("usage", "ingest", str(other)).output


def test_a_file_cut_inside_a_line_is_resumed_without_double_counting(client, cli, tmp_path,
                                                                     db_url):
    _catalog(client)
    events = _events(seed=6, n=30)
    lines = [json.dumps(e) for e in events]
    path = tmp_path / "tail.jsonl"
    path.write_text("\n".join(lines[:10]))  # no final line break: line 10 is whole
    assert "10 events taken" in cli("usage", "ingest", str(path)).output
    path.write_text("\n".join(lines[:20]) + "\n" + lines[20][:25])  # a writer is mid-line 21
    cut = cli("usage", "ingest", str(path))
    assert "took lines 11-21" in cut.output and "10 events taken, 1 rejected" in cut.output
    path.write_text("\n".join(lines) + "\n")  # line 21 finished, and more
    done = cli("usage", "ingest", str(path))
    assert "Lines 1-20 were already ingested; took lines 21-30." in done.output
    assert "10 events taken (" in done.output
    pd.testing.assert_frame_equal(_stored(db_url), _expected_daily(_reference(events)),
                                  check_dtype=False)


def test_small_blocks_and_early_upserts_give_the_same_rollups(
        client, tmp_path, db_url, monkeypatch):
    _catalog(client)
    taken: list[dict[str, object]] = []
    for seed, chunk, cells in ((4, 997, 3), (5, 64, 1)):
        events = _events(seed=seed, n=150)
        path = tmp_path / f"usage{seed}.jsonl"
        _write(path, events, {7: ("{broken", "")})
        monkeypatch.setattr(usage, "CHUNK_BYTES", chunk)
        monkeypatch.setattr(usage, "MAX_PENDING_CELLS", cells)
        with session_scope(session_factory(db_url)) as session:
            summary = usage.ingest_usage_file(session, path)
        assert (summary.events, summary.rejected, summary.lines) == (150, 1, 151)
        taken += events
        pd.testing.assert_frame_equal(_stored(db_url), _expected_daily(_reference(taken)),
                                      check_dtype=False)
        with session_scope(session_factory(db_url)) as session:
            assert [r.line_number for r in usage.rejected_lines(
                session, ingest_id=summary.ingest_id)] == [7]


def test_sdk_log_usage_and_batching_logger(client, db_url):
    _catalog(client)
    moment = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    assert client.log_usage("ctr", ["age", "clicks_7d"], count=2, ts=moment) == 4
    client.log_usage("service_z", "age", ts=moment + timedelta(hours=1))

    logger = client.usage_logger("ranker", flush_interval=60, max_events=10_000)
    for _ in range(250):
        logger.log(["age", "country"])
    logger.log("age", count=5)
    assert _stored(db_url).query("principal == 'ranker'").empty  # nothing written yet
    logger.close()
    with pytest.raises(RuntimeError):
        logger.log("age")
    with pytest.raises(ValueError):
        client.usage_logger("x").log([], count=1)

    stored = _stored(db_url)
    ranker = stored[stored.principal == "ranker"].groupby("feature")["reads"].sum().to_dict()
    assert ranker == {"age": 255, "country": 250}
    assert stored[(stored.principal == "ctr") & (stored.day == date(2026, 11, 3))] \
        .set_index("feature")["reads"].to_dict() == {"age": 2, "clicks_7d": 2}
    assert stored[stored.principal == "service_z"]["reads"].tolist() == [1]


def test_usage_logger_flushes_at_interpreter_exit(sqlite_url):
    db_url = sqlite_url
    _catalog(Client(db_url, actor="tester"))
    script = textwrap.dedent(f"""
        import registry
        logger = registry.connect({db_url!r}).usage_logger("exit_job", flush_interval=3600)
        for _ in range(7):
            logger.log("age", count=3)
        # no close(): atexit must write the 21 reads
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    stored = _stored(db_url)
    assert stored[stored.principal == "exit_job"]["reads"].sum() == 21
