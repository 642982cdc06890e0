"""Benchmark: raw usage logs added up into daily rollups, by each engine, side by side.

The same synthetic logs (`bench_usage.write_events`: ~90 days, 50 features, 30 principals,
1-3 features per event, 0.01% bad lines) as JSON Lines and as Parquet (``ts`` a UTC
timestamp), each run in its own process (so the peak memory is that run's alone):

* in-process: `registry.engines.usage_logs.aggregate_locally` -- the code of
  ``featreg usage ingest`` without the database, every line through the one validator;
* DuckDB: one ``GROUP BY`` over ``read_json`` / ``read_parquet`` (a candidate middle step for
  one machine with more data than memory). It does not run Featreg's validator (names,
  count range, times without a timezone), so its cells are checked against the in-process
  ones on these logs, where the only bad lines have no feature;
* Spark ``local[2]``: `registry.engines.spark.SparkEngine` (the same validator in each task),
  session start-up timed apart from the job.

Events/s of each against the in-process figure of the same format, measured in the same run.

    python benchmarks/bench_engines.py [--events N] [--quick] [--no-spark]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_usage import write_events  # noqa: E402
from benchlib import Figure, peak_rss_mib, report  # noqa: E402

DUCKDB_SQL = """
SELECT CAST(ts AS DATE) AS day, feature, consumer AS principal,
       SUM(COALESCE("count", 1)) AS reads, MIN(ts) AS first_read, MAX(ts) AS last_read
FROM (SELECT CAST(ts AS TIMESTAMPTZ) AS ts, consumer, "count",
             UNNEST(list_distinct(COALESCE(features, [feature]))) AS feature
      FROM {source}
      WHERE consumer IS NOT NULL)
GROUP BY ALL
"""
JSON_COLUMNS = ("{ts: 'VARCHAR', consumer: 'VARCHAR', feature: 'VARCHAR', "
                "features: 'VARCHAR[]', count: 'BIGINT'}")


def to_parquet(jsonl: Path, parquet: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    schema = pa.schema([("ts", pa.string()), ("consumer", pa.string()),
                        ("feature", pa.string()), ("features", pa.list_(pa.string())),
                        ("count", pa.int64())])
    table = pj.read_json(jsonl, parse_options=pj.ParseOptions(explicit_schema=schema))
    ts = pc.cast(table["ts"], pa.timestamp("us", tz="UTC"))
    pq.write_table(table.set_column(0, "ts", ts), parquet, row_group_size=500_000)


def run_one(engine: str, path: str) -> dict[str, Any]:
    """One measurement in this (fresh) process: seconds, cells, reads, peak memory."""
    started = 0.0
    if engine == "local":
        from registry.engines.usage_logs import aggregate_locally

        start = time.perf_counter()
        aggregate = aggregate_locally([path])
        seconds = time.perf_counter() - start
        cells, reads = len(aggregate.counts), sum(c[0] for c in aggregate.counts.cells.values())
    elif engine == "duckdb":
        import duckdb

        source = (f"read_parquet('{path}')" if path.endswith(".parquet") else
                  f"read_json('{path}', format='newline_delimited', columns={JSON_COLUMNS}, "
                  "ignore_errors=true)")
        start = time.perf_counter()
        connection = duckdb.connect()
        connection.execute("SET TimeZone='UTC'")
        rows = connection.execute(DUCKDB_SQL.format(source=source)).fetchall()
        seconds = time.perf_counter() - start
        cells, reads = len(rows), sum(int(r[3]) for r in rows)
    else:
        from registry.engines.spark import SparkEngine

        start = time.perf_counter()
        spark = SparkEngine("local[2]", {"spark.ui.enabled": "false",
                                         "spark.sql.shuffle.partitions": "8"})
        spark.spark.range(1).count()
        started = time.perf_counter() - start
        start = time.perf_counter()
        aggregate = spark.aggregate_usage([path])
        seconds = time.perf_counter() - start
        cells, reads = len(aggregate.counts), sum(c[0] for c in aggregate.counts.cells.values())
        spark.spark.stop()
    return {"seconds": seconds, "startup": started, "cells": cells, "reads": reads,
            "peak_mib": peak_rss_mib()}


def measure(engine: str, path: Path) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--run", engine, str(path)],
                            check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 events")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--run", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(*args.run)))
        return
    events = 200_000 if args.quick else args.events
    engines = ["local", "duckdb"] + ([] if args.no_spark else ["spark"])
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="featreg-bench-engines-") as folder:
        jsonl, parquet = Path(folder) / "usage.jsonl", Path(folder) / "usage.parquet"
        write_events(jsonl, events)
        to_parquet(jsonl, parquet)
        for label, path in (("JSON Lines", jsonl), ("Parquet", parquet)):
            results = {engine: measure(engine, path) for engine in engines}
            local = results["local"]
            for engine, result in results.items():
                same = (result["cells"], result["reads"]) == (local["cells"], local["reads"])
                note = (f"peak {result['peak_mib']:,.0f} MiB, {result['cells']:,} cells"
                        + ("" if same else " (cells or reads differ from in-process!)")
                        + (f", session start {result['startup']:.1f} s"
                           if result["startup"] else ""))
                figures.append(Figure(
                    f"{label} -> daily rollups, {engine}", events / result["seconds"],
                    "events/s", baseline=events / local["seconds"],
                    baseline_name="in-process", higher_is_better=True, note=note))
                print(f"{label:10} {engine:7} {result['seconds']:8.2f} s  {note}", flush=True)
    report("bench_engines.py", figures, events=events)


if __name__ == "__main__":
    main()
