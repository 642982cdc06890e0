"""Profile single requests of the web app in-process: time, SQL statements, and where the time
goes (pyinstrument), on PostgreSQL or SQLite, with the catalog of bench_web.py.

Creates (or reuses, with --db) a database holding bench_web's synthetic catalog of --features
features, then for each route sends --repeat requests through Flask's test client and prints
the median time and the number of SQL statements per request. With --profile DIR, writes a
pyinstrument text profile of each route's requests to DIR/<route>.txt.

    .venv/bin/python benchmarks/profile_web.py --features 5000 [--db URL] [--profile DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import WORDS, build_catalog  # noqa: E402
from sqlalchemy import create_engine, event, select, text  # noqa: E402

from registry.store import models as m  # noqa: E402
from registry.store.db import get_engine, session_factory, session_scope, upgrade  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def make_database(features: int) -> str:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"featreg_profile_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    build_catalog(url, features)
    print(f"built {features:,} features into {url}")
    return url


def routes(url: str, rng: random.Random, count: int) -> dict[str, list[str]]:
    with session_scope(session_factory(url)) as session:
        names = list(session.scalars(select(m.Feature.name).order_by(m.Feature.id)))
    pick = [rng.choice(names) for _ in range(count)]
    return {
        "search": [f"/features?q={quote(rng.choice(WORDS))}" for _ in range(count)],
        "feature_page": [f"/features/{quote(n)}" for n in pick],
        "feature_json": [f"/api/v1/features/{quote(n)}" for n in pick],
        "lineage_api": [f"/api/v1/lineage/{quote(n)}" for n in pick],
        "lineage_page": [f"/lineage/{quote(n)}" for n in pick],
        "graph_explorer": [f"/graph?team=team{rng.randrange(20):02d}" for _ in range(count)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="an existing database with the catalog")
    parser.add_argument("--features", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", type=Path, metavar="DIR")
    parser.add_argument("--only", nargs="*", help="route names")
    args = parser.parse_args()
    url = args.db or make_database(args.features)
    from featreg.web import create_app

    app = create_app({"DATABASE_URL": url, "TESTING": True})
    client = app.test_client()
    statements: list[str] = []
    event.listen(get_engine(url), "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    rng = random.Random(4)
    for route, paths in routes(url, rng, args.repeat).items():
        if args.only and route not in args.only:
            continue
        client.get(paths[0])  # first request: caches, pools
        profiler: Any = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            profiler.start()
        times, counts = [], []
        for path in paths:
            statements.clear()
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            counts.append(len(statements))
            assert response.status_code == 200, (path, response.status_code)
        if profiler is not None:
            profiler.stop()
            args.profile.mkdir(parents=True, exist_ok=True)
            (args.profile / f"{route}.txt").write_text(profiler.output_text(unicode=False))
        print(f"{route:<16} median {statistics.median(times) * 1000:7.1f} ms  max "
              f"{max(times) * 1000:7.1f} ms  SQL statements {statistics.median(counts):.0f}")


if __name__ == "__main__":
    main()
