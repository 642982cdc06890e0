"""Benchmark: the Python client's reads (direct transport) against raw SQL of the same rows.

A catalog of --features features (one team, one source) is applied to a fresh SQLite file
(and, with --pg URL, a fresh PostgreSQL database); then, after one call to warm up:

* `client.get(name)` of one feature, warm (answered from the client's catalog cache after
  one version query) and uncached (the cache dropped before each call), against a raw
  `SELECT` of that feature's row through the DB-API driver;
* `client.list()` of every feature, warm and uncached, against a raw `SELECT` of the same
  columns of every row.

Medians of --repeats calls. Targets (issue 15): warm get <= 2 ms, list of 4,000 <= 20 ms.

    .venv/bin/python benchmarks/bench_sdk.py                   # 4,000 features, SQLite
    .venv/bin/python benchmarks/bench_sdk.py --pg postgresql://127.0.0.1:5432/test
    .venv/bin/python benchmarks/bench_sdk.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import Figure, report  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from registry.sdk.cache import CatalogCache  # noqa: E402
from registry.sdk.client import Client  # noqa: E402
from registry.store.db import dispose_engine, upgrade  # noqa: E402

GET_TARGET = 0.002
LIST_TARGET = 0.020


def median_seconds(fn: Callable[[], Any], repeats: int, before: Callable[[], None] | None = None
                   ) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stock(url: str, features: int) -> Client:
    upgrade(url)
    client = Client(url, actor="bench")
    with client.batch():
        client.register_team("growth")
        client.register_source("warehouse.clicks", kind="table", owner="growth")
        for i in range(features):
            client.register_feature(f"feature_{i:06d}", owner="growth", dtype="float",
                                    description=f"Feature number {i}.",
                                    sources=["warehouse.clicks"], tags=["bench", f"g{i % 50}"])
    return client


def raw_queries(url: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """One feature's row, and every feature's listed columns, through the bare driver."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if url.startswith("postgresql://") else url)
    connection = engine.raw_connection()
    one = "SELECT * FROM features WHERE name = %s" if "postgresql" in url else \
        "SELECT * FROM features WHERE name = ?"
    every = ("SELECT f.name, t.name, f.dtype, f.status, f.description FROM features f "
             "JOIN teams t ON t.id = f.owner_id ORDER BY f.name")

    def get_row() -> Any:
        cursor = connection.cursor()
        cursor.execute(one, ("feature_000042",))
        return cursor.fetchall()

    def all_rows() -> Any:
        cursor = connection.cursor()
        cursor.execute(every)
        return cursor.fetchall()

    return get_row, all_rows


def measure(label: str, url: str, features: int, repeats: int) -> list[Figure]:
    client = stock(url, features)
    name = "feature_000042"
    get_row, all_rows = raw_queries(url)
    for call in (lambda: client.get(name), client.list, get_row, all_rows):
        call()  # warm up: connections, statement caches

    def drop_cache() -> None:
        client._cache = CatalogCache()

    raw_get = median_seconds(get_row, repeats)
    raw_list = median_seconds(all_rows, max(3, repeats // 10))
    warm_get = median_seconds(lambda: client.get(name), repeats)
    cold_get = median_seconds(lambda: client.get(name), max(3, repeats // 10), drop_cache)
    warm_list = median_seconds(client.list, max(3, repeats // 10))
    cold_list = median_seconds(client.list, 3, drop_cache)
    listed = len(client.list())
    raw_name = f"raw SQL {label}"
    return [
        Figure(f"get, warm ({label})", warm_get, baseline=raw_get, baseline_name=raw_name,
               target=GET_TARGET),
        Figure(f"get, cache dropped ({label})", cold_get, baseline=raw_get,
               baseline_name=raw_name),
        Figure(f"list {listed:,} features, warm ({label})", warm_list, baseline=raw_list,
               baseline_name=raw_name, target=LIST_TARGET),
        Figure(f"list {listed:,} features, cache dropped ({label})", cold_list,
               baseline=raw_list, baseline_name=raw_name),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--pg", metavar="URL", help="also on a fresh database of this server")
    parser.add_argument("--quick", action="store_true", help="400 features, 50 repeats")
    args = parser.parse_args()
    if args.quick:
        args.features, args.repeats = 400, 50
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="featreg-bench-sdk-") as folder:
        url = f"sqlite:///{Path(folder) / 'sdk.db'}"
        figures += measure("SQLite", url, args.features, args.repeats)
        dispose_engine(url)
    if args.pg:
        admin = create_engine(args.pg.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        name = f"featreg_bench_sdk_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.pg.rsplit("/", 1)[0] + f"/{name}"
        try:
            figures += measure("PostgreSQL", url, args.features, args.repeats)
        finally:
            dispose_engine(url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    report("bench_sdk.py", figures, features=args.features)
    sys.exit(0 if all(f.verdict != "MISS" for f in figures) else 1)


if __name__ == "__main__":
    main()
