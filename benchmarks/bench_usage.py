"""Benchmark: usage ingestion of JSON Lines, end to end (parse + validate + rollup + store).

For each size (default 2,000,000 and 10,000,000 events) this script writes a JSONL file of
time-ordered events (50 features, 30 principals of which 10 are not registered consumers,
1-3 features per event, some counts, 0.01% bad lines, ~90 days), then runs, in a fresh
subprocess per size so that peak memory is that run's alone:

* the parse floor: reading the file and ``orjson.loads`` of every line, nothing else;
* the raw floor: the shortest script that does the same job without Featreg -- orjson, a dict
  of daily rows (day, feature, principal) -> reads, first, last, and ``sqlite3``
  ``executemany`` of those same daily rows into a fresh table (target: Featreg within 2x);
* ``featreg usage ingest``'s service (`ingest_usage_file`) into a fresh, migrated SQLite
  database with a small registered catalog, committed;
* with ``--pg ADMIN_URL`` (default the local server; ``--no-pg`` to skip): the same two into
  PostgreSQL, the raw floor loading the daily rows with ``COPY``.

It prints events/s, the ratios to the floors, and the peak RSS of each run (ru_maxrss), so one
can see that memory does not grow with the file.

    python benchmarks/bench_usage.py                  # 2M and 10M events
    python benchmarks/bench_usage.py --events 200000  # smaller: events/5 and events
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Figure, peak_rss_mib, report  # noqa: E402

FEATURES = [f"feature_{i:02d}" for i in range(50)]
CONSUMERS = [f"model_{i:02d}" for i in range(20)]
OUTSIDERS = [f"job_{i:02d}" for i in range(10)]
START = datetime(2026, 8, 1, tzinfo=UTC)


def write_events(path: Path, events: int, seed: int = 11) -> int:
    """Time-ordered events over ~90 days; returns the number of bad lines planted."""
    rng = random.Random(seed)
    principals = CONSUMERS + OUTSIDERS
    step = 90 * 86400 / events
    bad = 0
    with path.open("w") as file:
        batch = []
        for i in range(events):
            moment = START + timedelta(seconds=i * step + rng.random())
            ts = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            who = rng.choice(principals)
            if rng.random() < 0.0001:
                batch.append(f'{{"ts": "{ts}", "consumer": "{who}"}}')  # no feature: rejected
                bad += 1
            elif rng.random() < 0.5:
                feature = rng.choice(FEATURES)
                batch.append(f'{{"ts": "{ts}", "consumer": "{who}", "feature": "{feature}"}}')
            else:
                names = '", "'.join(rng.sample(FEATURES, rng.randint(1, 3)))
                count = rng.randint(1, 9)
                batch.append(f'{{"ts": "{ts}", "consumer": "{who}", "features": ["{names}"], '
                             f'"count": {count}}}')
            if len(batch) >= 100_000:
                file.write("\n".join(batch) + "\n")
                batch = []
        if batch:
            file.write("\n".join(batch) + "\n")
    return bad


def daily_rows(events_file: Path) -> dict[tuple[str, str, str], list[Any]]:
    """The raw floor's aggregate: (day, feature, principal) -> [reads, first, last]."""
    import orjson

    cells: dict[tuple[str, str, str], list[Any]] = {}
    from_iso = datetime.fromisoformat
    with events_file.open("rb") as file:
        for line in file:
            obj = orjson.loads(line)
            features = obj.get("features") or ([obj["feature"]] if "feature" in obj else None)
            if not features:
                continue
            ts = from_iso(obj["ts"])
            day = ts.date().isoformat()
            count = obj.get("count", 1)
            for feature in features:
                cell = cells.get((day, feature, obj["consumer"]))
                if cell is None:
                    cells[(day, feature, obj["consumer"])] = [count, ts, ts]
                else:
                    cell[0] += count
                    cell[1] = min(cell[1], ts)
                    cell[2] = max(cell[2], ts)
    return cells


def raw_sqlite_floor(events_file: Path, db_file: Path) -> tuple[float, int]:
    """The raw floor into SQLite: aggregate, then sqlite3 executemany of the daily rows."""
    started = time.perf_counter()
    cells = daily_rows(events_file)
    conn = sqlite3.connect(db_file)
    conn.execute("CREATE TABLE usage_daily (feature TEXT, principal TEXT, day TEXT, "
                 "reads INTEGER, first_read TEXT, last_read TEXT, "
                 "PRIMARY KEY (feature, principal, day))")
    conn.executemany("INSERT INTO usage_daily VALUES (?, ?, ?, ?, ?, ?)",
                     ((f, p, d, c[0], c[1].isoformat(), c[2].isoformat())
                      for (d, f, p), c in cells.items()))
    conn.commit()
    conn.close()
    return time.perf_counter() - started, len(cells)


def raw_pg_floor(events_file: Path, url: str) -> float:
    """The raw floor into PostgreSQL: aggregate, then COPY of the daily rows."""
    import psycopg

    started = time.perf_counter()
    cells = daily_rows(events_file)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("CREATE TABLE raw_usage_daily (feature text, principal text, day date, "
                     "reads bigint, first_read timestamptz, last_read timestamptz, "
                     "PRIMARY KEY (feature, principal, day))")
        with conn.cursor().copy("COPY raw_usage_daily FROM STDIN") as copy:
            for (d, f, p), c in cells.items():
                copy.write_row((f, p, d, c[0], c[1], c[2]))
    return time.perf_counter() - started


def featreg_ingest(events_file: Path, url: str) -> tuple[float, float, Any]:
    """`featreg usage ingest`'s service into a migrated database with a small catalog."""
    import registry
    from registry.evidence.usage import ingest_usage_file
    from registry.store.db import session_factory, session_scope, upgrade

    upgrade(url)
    client = registry.connect(url, actor="bench")
    with client.batch():
        client.register_team("bench", contact="bench@example.com")
        for name in FEATURES:
            client.register_feature(name, owner="bench", dtype="float", description="x")
        for name in CONSUMERS:
            client.register_consumer(name, kind="model", owner="bench", features=FEATURES[:5])
    started, cpu_started = time.perf_counter(), time.process_time()
    with session_scope(session_factory(url)) as session:
        summary = ingest_usage_file(session, events_file)
    return time.perf_counter() - started, time.process_time() - cpu_started, summary


def child(events_file: Path, db_file: Path, pg_url: str | None) -> dict[str, Any]:
    """Runs in a fresh process: the floors, then the real ingest; prints JSON figures."""
    import orjson

    rss_before = peak_rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    parsed = 0
    with events_file.open("rb") as file:
        for line in file:
            orjson.loads(line)
            parsed += 1
    parse_seconds = time.perf_counter() - started
    parse_cpu_seconds = time.process_time() - cpu_started
    raw_seconds, daily = raw_sqlite_floor(events_file, db_file.with_suffix(".raw.db"))
    rss_raw = peak_rss_mib()

    ingest_seconds, ingest_cpu_seconds, summary = featreg_ingest(events_file,
                                                                 f"sqlite:///{db_file}")
    figures = {"lines": parsed, "events": summary.events, "rejected": summary.rejected,
               "reads": summary.reads, "daily_rows": daily, "parse_seconds": parse_seconds,
               "parse_cpu_seconds": parse_cpu_seconds, "raw_seconds": raw_seconds,
               "ingest_seconds": ingest_seconds, "ingest_cpu_seconds": ingest_cpu_seconds,
               "rss_before_mib": rss_before, "rss_raw_mib": rss_raw,
               "peak_rss_mib": peak_rss_mib()}
    if pg_url:
        figures["pg_raw_seconds"] = raw_pg_floor(events_file, pg_url)
        figures["pg_ingest_seconds"] = featreg_ingest(events_file, pg_url)[0]
    return figures


@contextmanager
def scratch_pg(admin_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped at the end), or None."""
    if not admin_url:
        yield None
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"featreg_bench_usage_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_size(events: int, folder: Path, pg_admin: str | None) -> dict[str, Any]:
    events_file = folder / f"usage_{events}.jsonl"
    started = time.perf_counter()
    bad = write_events(events_file, events)
    print(f"{events:>11,} events: wrote {events_file.stat().st_size / 2**20:,.0f} MiB in "
          f"{time.perf_counter() - started:.1f} s ({bad} bad lines planted)", flush=True)
    with scratch_pg(pg_admin) as pg_url:
        command = [sys.executable, __file__, "--child", str(events_file),
                   str(folder / f"{events}.db")] + (["--child-pg", pg_url] if pg_url else [])
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["rejected"] == bad and figures["events"] == events - bad, figures
    events_file.unlink()
    return figures


def figures_for(rows: list[tuple[int, dict[str, Any]]]) -> list[Figure]:
    figures: list[Figure] = []
    for n, f in rows:
        label = f"{n / 1e6:g}M events"
        figures += [
            Figure(f"usage ingest SQLite {label} ({f['daily_rows']:,} daily rows)",
                   f["ingest_seconds"], baseline=f["raw_seconds"],
                   baseline_name="orjson + dict + sqlite3 executemany",
                   target=2 * f["raw_seconds"], note=f"{n / f['ingest_seconds']:,.0f} events/s"),
            Figure(f"usage ingest SQLite {label}: events/s", n / f["ingest_seconds"],
                   "events/s", baseline=n / f["parse_seconds"], baseline_name="orjson parse only",
                   higher_is_better=True),
            Figure(f"usage ingest {label}: peak memory", f["peak_rss_mib"], "MiB",
                   baseline=f["rss_before_mib"], baseline_name="process at start"),
        ]
        if "pg_ingest_seconds" in f:
            figures.append(Figure(
                f"usage ingest PostgreSQL {label}", f["pg_ingest_seconds"],
                baseline=f["pg_raw_seconds"], baseline_name="orjson + dict + COPY",
                note=f"{n / f['pg_ingest_seconds']:,.0f} events/s"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000,
                        help="events in the larger file; the smaller one has a fifth")
    parser.add_argument("--sizes", help="comma-separated event counts instead (e.g. 10000000: "
                        "one file, when the machine is short of time)")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        metavar="ADMIN_URL", help="PostgreSQL server for the second backend")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--child", nargs=2, metavar=("EVENTS_FILE", "DB_FILE"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--child-pg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), args.child_pg)))
        return 0
    sizes = ([int(n) for n in args.sizes.split(",")] if args.sizes
             else [max(args.events // 5, 1), args.events])
    print("usage ingest, end to end (parse + validate + rollup + store, one transaction)")
    with tempfile.TemporaryDirectory(prefix="featreg-bench-usage-") as tmp:
        rows = [(n, run_size(n, Path(tmp), None if args.no_pg else args.pg)) for n in sizes]
    print()
    print("wall clock (what a user waits) and CPU time of this process (what it costs, whatever "
          "else runs on the machine):")
    print(f"{'events':>11} {'seconds':>8} {'events/s':>9} {'CPU s':>6} {'events/CPU s':>13} "
          f"{'vs parse floor (CPU)':>21} {'RSS before':>11} {'peak RSS':>9}")
    for n, f in rows:
        ratio = f["ingest_cpu_seconds"] / f["parse_cpu_seconds"]
        print(f"{n:>11,} {f['ingest_seconds']:>8.1f} {n / f['ingest_seconds']:>9,.0f} "
              f"{f['ingest_cpu_seconds']:>6.1f} {n / f['ingest_cpu_seconds']:>13,.0f} "
              f"{ratio:>20.2f}x {f['rss_before_mib']:>7.0f} MiB {f['peak_rss_mib']:>5.0f} MiB")
    print("(parse floor: reading the file and orjson.loads of each line, nothing else)")
    small, large = rows[0][1], rows[-1][1]
    print(f"\npeak RSS {large['peak_rss_mib']:.0f} MiB at {sizes[-1]:,} events vs "
          f"{small['peak_rss_mib']:.0f} MiB at {sizes[0]:,} "
          f"(ratio {large['peak_rss_mib'] / small['peak_rss_mib']:.2f} for "
          f"{sizes[-1] / sizes[0]:.0f}x the events); load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    figures = figures_for(rows)
    report("bench_usage.py", figures, sizes=sizes)
    return 1 if any(f.verdict == "MISS" for f in figures) else 0


if __name__ == "__main__":
    raise SystemExit(main())
