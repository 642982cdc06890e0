"""Benchmark: usage ingestion of JSON Lines into SQLite, end to end (parse + store + rollup).

For each size (default 1,000,000 and 5,000,000 events) this script writes a JSONL file of
time-ordered events (50 features, 30 principals of which 10 are not registered consumers,
1-3 features per event, some counts, 0.01% bad lines, ~90 days), then runs, in a fresh
subprocess per size so that peak memory is that run's alone:

* the baseline: reading the file and ``orjson.loads`` of every line, nothing else (the parse
  floor, measured in the same process);
* ``featreg usage ingest``'s service (`ingest_usage_file`) into a fresh, migrated SQLite
  database with a small registered catalog, committed.

It prints events/s, the ratio to the parse floor, and the peak RSS of each run (ru_maxrss),
so one can see that memory does not grow with the file.

    python benchmarks/bench_usage.py                  # 1M and 5M events
    python benchmarks/bench_usage.py --events 200000  # smaller: events/5 and events
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(events_file: Path, db_file: Path) -> dict[str, float]:
    """Runs in a fresh process: parse floor, then the real ingest; prints JSON figures."""
    import orjson

    import registry
    from registry.evidence.usage import ingest_usage_file
    from registry.store.db import session_factory, session_scope, upgrade

    url = f"sqlite:///{db_file}"
    upgrade(url)
    client = registry.connect(url, actor="bench")
    with client.batch():
        client.register_team("bench", contact="bench@example.com")
        for name in FEATURES:
            client.register_feature(name, owner="bench", dtype="float", description="x")
        for name in CONSUMERS:
            client.register_consumer(name, kind="model", owner="bench", features=FEATURES[:5])
    rss_before = peak_rss_mib()

    started, cpu_started = time.perf_counter(), time.process_time()
    parsed = 0
    with events_file.open("rb") as file:
        for line in file:
            orjson.loads(line)
            parsed += 1
    parse_seconds = time.perf_counter() - started
    parse_cpu_seconds = time.process_time() - cpu_started

    started, cpu_started = time.perf_counter(), time.process_time()
    with session_scope(session_factory(url)) as session:
        summary = ingest_usage_file(session, events_file)
    ingest_seconds = time.perf_counter() - started
    ingest_cpu_seconds = time.process_time() - cpu_started
    return {"lines": parsed, "events": summary.events, "rejected": summary.rejected,
            "reads": summary.reads, "parse_seconds": parse_seconds,
            "parse_cpu_seconds": parse_cpu_seconds,
            "ingest_seconds": ingest_seconds, "ingest_cpu_seconds": ingest_cpu_seconds,
            "rss_before_mib": rss_before,
            "peak_rss_mib": peak_rss_mib()}


def run_size(events: int, folder: Path) -> dict[str, float]:
    events_file = folder / f"usage_{events}.jsonl"
    started = time.perf_counter()
    bad = write_events(events_file, events)
    print(f"{events:>11,} events: wrote {events_file.stat().st_size / 2**20:,.0f} MiB in "
          f"{time.perf_counter() - started:.1f} s ({bad} bad lines planted)", flush=True)
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(events_file), str(folder / f"{events}.db")],
        check=True, capture_output=True, text=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures["rejected"] == bad and figures["events"] == events - bad, figures
    events_file.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000,
                        help="events in the larger file; the smaller one has a fifth")
    parser.add_argument("--child", nargs=2, metavar=("EVENTS_FILE", "DB_FILE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return
    sizes = [max(args.events // 5, 1), args.events]
    print("usage ingest into SQLite, end to end (parse + store + rollup, one transaction)")
    with tempfile.TemporaryDirectory(prefix="featreg-bench-usage-") as tmp:
        rows = [(n, run_size(n, Path(tmp))) for n in sizes]
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
    small, large = rows[0][1], rows[1][1]
    print(f"\npeak RSS {large['peak_rss_mib']:.0f} MiB at {sizes[1]:,} events vs "
          f"{small['peak_rss_mib']:.0f} MiB at {sizes[0]:,} "
          f"(ratio {large['peak_rss_mib'] / small['peak_rss_mib']:.2f} for "
          f"{sizes[1] / sizes[0]:.0f}x the events)")
    target = 200_000
    verdict = "meets" if sizes[1] / large["ingest_seconds"] >= target else "misses"
    print(f"{verdict} the target of {target:,} events/s (wall clock) at {sizes[1]:,} events; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
