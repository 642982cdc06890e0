"""Benchmark: catalog search latency with and without one catalog write per second (D9).

Builds (or reuses, `--keep`) the 20,000-feature SQLite catalog of `bench_web.py`, starts
`featreg serve`, and sends catalog searches at a fixed rate (default 50/s, open loop: each
request is due at its own time and its latency counts from then, so a stall is not hidden
by clients that stop sending): half as pages (`/features?q=`, served from the in-memory
index, the previous one while a newer is built) and half through the API
(`/api/v1/features?q=`, read-your-writes: from SQL while the index is behind a change).
First without writes (the baseline), then with one feature registered per second through
the API with an admin token. Prints p50/p99/max of each.

    python benchmarks/bench_search_writes.py --keep /tmp/web20k.db
    python benchmarks/bench_search_writes.py --features 2000 --seconds 10   # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_web import WORDS, build_catalog, free_port, start_server, wait_until_ready  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from registry.access.tokens import create_token  # noqa: E402
from registry.store import models as m  # noqa: E402
from registry.store.db import session_factory, session_scope, upgrade  # noqa: E402

local = threading.local()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> int:
    """One request on this thread's keep-alive connection (reconnecting once if the server
    closed it); the status."""
    for attempt in (1, 2):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response.status
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            local.conn = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def run_phase(port: int, rate: float, seconds: float, token: str | None,
              rng: random.Random) -> dict[str, list[float]]:
    """Searches at `rate`/s for `seconds` (and, with `token`, one write a second); the
    latencies of page and API searches, counted from when each was due."""
    results: dict[str, list[float]] = {"page": [], "api": [], "write": []}
    errors: list[str] = []
    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=48)
    start = time.perf_counter()

    def search(due: float, kind: str, path: str) -> None:
        status = request(port, "GET", path)
        elapsed = time.perf_counter() - due
        with lock:
            (results[kind] if status == 200 else errors).append(
                elapsed if status == 200 else f"{path}: {status}")  # type: ignore[arg-type]

    def write(due: float, i: int) -> None:
        body = json.dumps({"name": f"bench_written_{int(start)}_{i}", "owner": "team00",
                           "dtype": "int", "description": f"Written by the benchmark ({i})."})
        status = request(port, "POST", "/api/v1/features", body.encode(),
                         {"Content-Type": "application/json",
                          "Authorization": f"Bearer {token}"})
        with lock:
            if status >= 300:
                errors.append(f"write: {status}")
            results["write"].append(time.perf_counter() - due)

    n = int(rate * seconds)
    writes = int(seconds) if token else 0
    schedule = sorted([(i / rate, "search", i) for i in range(n)]
                      + [(j + 0.5, "write", j) for j in range(writes)])
    for at, what, i in schedule:
        due = start + at
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        if what == "write":
            pool.submit(write, due, i)
        else:
            kind = "page" if i % 2 else "api"
            prefix = "/features" if kind == "page" else "/api/v1/features"
            pool.submit(search, due, kind, f"{prefix}?q={quote(rng.choice(WORDS))}")
    pool.shutdown(wait=True)
    if errors:
        print(f"  {len(errors)} errors, the first: {errors[0]}")
    return results


def show(label: str, latencies: list[float]) -> None:
    if not latencies:
        return
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{label:<34} n={len(ordered):5d}  p50 {statistics.median(ordered) * 1000:7.1f} ms"
          f"  p99 {p99 * 1000:7.1f} ms  max {ordered[-1] * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=50.0, help="searches per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", metavar="FILE", help="build the catalog into this SQLite "
                        "file once and reuse it on later runs")
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.keep) if args.keep else Path(folder) / "bench.db"
        url = f"sqlite:///{path}"
        new = not path.exists()
        upgrade(url)  # a kept catalog is brought up to the code's schema
        if new:
            build_catalog(url, args.features)
        with session_scope(session_factory(url)) as session:
            count = session.scalar(select(func.count()).select_from(m.Feature))
            _row, token = create_token(session, name=f"bench-{time.time_ns()}", team=None,
                                       admin=True, created_by="bench")
        print(f"catalog of {count:,} features; {args.rate:.0f} searches/s for "
              f"{args.seconds:.0f} s per phase, {args.workers} worker process(es)")
        port = free_port()
        log = Path(folder) / "server.log"
        server = start_server(url, port, log, args.workers)
        try:
            wait_until_ready(log, args.workers)
            run_phase(port, args.rate, 3, None, rng)  # connections, template caches
            quiet = run_phase(port, args.rate, args.seconds, None, rng)
            show("search, no writes: page", quiet["page"])
            show("search, no writes: API", quiet["api"])
            busy = run_phase(port, args.rate, args.seconds, token, rng)
            show("search, 1 write/s: page", busy["page"])
            show("search, 1 write/s: API (fresh)", busy["api"])
            show("the writes", busy["write"])
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
