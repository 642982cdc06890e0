"""Benchmark: the pages of issue 13 part B on a large catalog — search over every kind, the
list pages, the catalog with its usage columns, sorts and filters, the team, home, findings
and jobs pages — timed in-process (Flask's test client, one request at a time: the server's
own time per page, no network), p50 and p95 of each, against the stylesheet as the floor.

The catalog is bench_web's (teams, sources, features, consumers, daily usage with undeclared
readers, importance, findings on one feature in ten), built on SQLite, or reused with --keep.
Target: p95 <= 300 ms per page at 20,000 features (issue 13).

    python benchmarks/bench_pages.py                         # 20,000 features
    python benchmarks/bench_pages.py --features 100000 --keep /tmp/pages100k.db
    python benchmarks/bench_pages.py --quick                 # 2,000 features, few requests
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import WORDS, build_catalog, record_some_findings  # noqa: E402
from benchlib import Figure, report, timed  # noqa: E402
from featreg.web import create_app  # noqa: E402
from sqlalchemy import select  # noqa: E402

from registry.read.browse import principal_rows  # noqa: E402
from registry.read.catalog_usage import UsageTable  # noqa: E402
from registry.read.directory import NameDirectory  # noqa: E402
from registry.store import models as m  # noqa: E402
from registry.store.db import session_factory, session_scope, upgrade  # noqa: E402

TARGET = 0.300


def pages(rng: random.Random, team: str, actor: str) -> dict[str, list[str]]:
    """Each workload's URLs (searches vary their words)."""
    words = [rng.choice(WORDS) for _ in range(200)]
    return {
        "catalog": ["/features"],
        "catalog sorted by 30-day reads": ["/features?sort=-reads_30d"],
        "catalog unread 30 days, no readers": ["/features?unread_days=30&no_readers=1"],
        "catalog search + sort by last read": [f"/features?q={w}&sort=-last_read"
                                               for w in words],
        "search every kind (page)": [f"/search?q={w}" for w in words],
        "search every kind (JSON)": [f"/api/v1/search?q={w}" for w in words],
        "sources": ["/sources?sort=-features"],
        "consumers": ["/consumers?sort=-features"],
        "principals": ["/principals?sort=-total_reads"],
        "history": ["/history", f"/history?actor={actor}&type=feature"],
        "team page": [f"/teams/{team}"],
        "home": ["/"],
        "jobs": ["/jobs"],
        "stylesheet (floor)": ["/static/style.css"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=60, help="per workload")
    parser.add_argument("--keep", metavar="FILE", help="build the catalog into this SQLite "
                        "file once and reuse it on later runs")
    parser.add_argument("--quick", action="store_true", help="2,000 features, 15 requests")
    args = parser.parse_args()
    if args.quick:
        args.features, args.requests = 2_000, 15
    rng = random.Random(3)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.keep) if args.keep else Path(folder) / "pages.db"
        url = f"sqlite:///{path}"
        built = path.exists()
        upgrade(url)  # (a kept catalog may be of an older schema)
        sessions = session_factory(url)
        if not built:
            seconds, names = timed(lambda: build_catalog(url, args.features))
            with session_scope(sessions) as session:
                consumers = list(session.scalars(select(m.Consumer.name)))
            record_some_findings(sessions, names, consumers)
            print(f"catalog of {len(names):,} features built in {seconds:.1f} s")
        with session_scope(sessions) as session:
            count = session.scalar(select(m.Feature.id).order_by(m.Feature.id.desc()).limit(1))
            team = session.scalar(select(m.Team.name).order_by(m.Team.name).limit(1)) or ""
            actor = session.scalar(select(m.AuditEvent.actor).limit(1)) or ""
            usage_s, _ = timed(lambda: UsageTable.load(session))
            directory_s, _ = timed(lambda: NameDirectory.load(session,
                                                              principal_rows(session)))
        print(f"catalog of about {count:,} features in {path}")
        app = create_app({"DATABASE_URL": url})
        http = app.test_client()
        first_s, _ = timed(lambda: [http.get(u) for u in ("/features", "/search?q=user",
                                                          "/principals")])
        gc.collect()
        gc.freeze()  # as `featreg serve`'s warm-up does once the caches are built
        figures = [
            Figure("usage table build (background)", usage_s),
            Figure("name directory build (background)", directory_s),
            Figure("first catalog + search + principals (index builds)", first_s),
        ]
        floor: float | None = None
        for name, urls in reversed(list(pages(rng, team, actor).items())):
            seconds = []
            for i in range(args.requests):
                start = time.perf_counter()
                response = http.get(urls[i % len(urls)])
                seconds.append(time.perf_counter() - start)
                assert response.status_code == 200, (urls[i % len(urls)], response.status)
            p95 = statistics.quantiles(seconds, n=20)[-1]
            if floor is None:
                floor = p95
            figures.append(Figure(f"{name} p95", p95, baseline=floor,
                                  baseline_name="stylesheet p95",
                                  target=None if floor == p95 else TARGET,
                                  note=f"p50 {statistics.median(seconds) * 1000:.1f} ms"))
        report("bench_pages.py", figures, features=count, requests=args.requests)


if __name__ == "__main__":
    main()
