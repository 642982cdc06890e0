"""Load test: mixed reads and writes against PostgreSQL behind gunicorn (issue 11's figures).

Creates a fresh database ``featreg_load_<random>`` on the local PostgreSQL server (trust auth,
postgres@127.0.0.1:5432), runs `featreg init`, loads the synthetic catalog of bench_web.py
(--features, default 5,000), creates an admin token, starts `featreg serve --no-scheduler`
(gunicorn) and drives it from --clients threads on loopback at --rate requests/s for
--duration seconds (hard cap --max-requests). The mix:

* 30% catalog search      GET  /features?q=...
* 20% feature pages       GET  /features/NAME   (distinct features: cold graphs)
* 15% lineage             GET  /api/v1/lineage/NAME
* 20% usage               POST /api/v1/usage    (Bearer token; unique consumer+feature+ts)
* 15% OpenLineage         POST /api/v1/lineage  (Bearer token; unique runId)

It prints the achieved rate, p50/p95/p99 latency of reads and of writes, the status codes
(errors = anything not 2xx except 503, counted as "refused"), the load average, and checks in
the database that every accepted usage event was counted exactly once and every accepted
OpenLineage event stored once. --overload runs at twice the rate and reports the refusals
(503 with Retry-After) and their p99 latency. The database is dropped at the end (--keep-db
keeps it).

    python benchmarks/load_test.py                          # 200 req/s for 60 s
    python benchmarks/load_test.py --duration 30 --overload # 400 req/s for 30 s
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import WORDS, build_catalog, free_port  # noqa: E402
from benchlib import Figure  # noqa: E402
from benchlib import report as benchlib_report  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MIX = [("search", 30), ("page", 20), ("lineage", 15), ("usage", 20), ("openlineage", 15)]
WRITES = {"usage", "openlineage"}
CLIENT_TIMEOUT = 30.0


@dataclass
class Result:
    kind: str
    status: int  # 0: no answer (connection error or client timeout)
    latency: float
    retry_after: bool = False
    key: str = ""  # the usage consumer or the OpenLineage runId
    at: float = 0.0  # when it was sent, seconds after the load began


@dataclass
class Plan:
    names: list[str]
    tag: str
    token: str
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    pages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pages = list(self.names)
        self.rng.shuffle(self.pages)
        self.base = datetime.now(UTC) - timedelta(days=1)

    def distinct_feature(self) -> str:
        with self.lock:
            if not self.pages:  # every feature shown once: start over (graphs now cached)
                self.pages = list(self.names)
                self.rng.shuffle(self.pages)
            return self.pages.pop()

    def request(self, i: int, kind: str) -> tuple[str, str, bytes | None, str]:
        """(method, path, body, key) of request number i."""
        if kind == "search":
            return "GET", f"/features?q={quote(WORDS[i % len(WORDS)])}", None, ""
        if kind == "page":
            return "GET", f"/features/{quote(self.distinct_feature())}", None, ""
        if kind == "lineage":
            return "GET", f"/api/v1/lineage/{quote(self.distinct_feature())}", None, ""
        if kind == "usage":
            consumer = f"load_{self.tag}_{i % 20:02d}"
            ts = (self.base + timedelta(milliseconds=i)).isoformat()
            event = {"ts": ts, "consumer": consumer, "count": 1,
                     "features": [self.names[i % len(self.names)]]}
            return "POST", "/api/v1/usage", json.dumps([event]).encode(), consumer
        run_id = str(uuid.uuid4())
        feature = self.names[i % len(self.names)]
        event = {"eventType": "COMPLETE", "eventTime": datetime.now(UTC).isoformat(),
                 "producer": "https://example.com/load_test", "run": {"runId": run_id},
                 "job": {"namespace": "load", "name": f"load_{self.tag}_job_{i % 10}"},
                 "inputs": [{"namespace": "warehouse", "name": "warehouse.table_000",
                             "facets": {"schema": {"fields": [{"name": feature}]}}}],
                 "outputs": []}
        return "POST", "/api/v1/lineage", json.dumps(event).encode(), run_id


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed:\n{done.stdout}\n{done.stderr}")
    return str(done.stdout)


def wait_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"featreg serve did not become healthy:\n{log.read_text(errors='replace')}")


def wait_ready(log: Path, timeout: float = 180.0) -> None:
    """Wait until every worker has said it is ready (its search index, catalog and default
    graph built in the background): the figures are of a server that has started, not of
    workers still warming up on the same two cores."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        found = re.search(r"gunicorn: (\d+) worker process", text)
        if found and text.count(" ready: ") >= int(found.group(1)):
            return
        time.sleep(0.3)
    print("warning: not every worker said it was ready")


def warm_up(port: int) -> None:
    """A few unmeasured searches first, so each worker has its search index and pool ready."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    for word in WORDS[:20]:
        conn.request("GET", f"/features?q={quote(word)}")
        conn.getresponse().read()
    conn.close()


def drive(port: int, plan: Plan, rate: float, duration: float, max_requests: int,
          clients: int) -> tuple[list[Result], float]:
    """Request i is due at start + i/rate, sent by thread i % clients on its keep-alive
    connection (late if that thread is still busy). Returns the results and the elapsed time."""
    total = min(max_requests, int(rate * duration))
    kinds = [k for k, weight in MIX for _ in range(weight)]
    order = random.Random(2)
    schedule = [order.choice(kinds) for _ in range(total)]
    results: list[Result] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    stop_at = start + duration + CLIENT_TIMEOUT

    def worker(tid: int) -> None:
        conn: http.client.HTTPConnection | None = None
        mine: list[Result] = []
        for i in range(tid, total, clients):
            due = start + i / rate
            now = time.monotonic()
            if now > stop_at:
                break
            if due > now:
                time.sleep(due - now)
            kind = schedule[i]
            method, path, body, key = plan.request(i, kind)
            headers = {"Host": f"127.0.0.1:{port}"}
            if body is not None:
                headers |= {"Content-Type": "application/json",
                            "Authorization": f"Bearer {plan.token}"}
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                retry = response.getheader("Retry-After") is not None
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status, retry = 0, False
                if conn is not None:
                    conn.close()
                conn = None
            mine.append(Result(kind, status, time.monotonic() - sent, retry, key, sent - start))
        if conn is not None:
            conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - start


def cpu_seconds(root: int) -> dict[str, float]:
    """CPU time (user + system, seconds) of the server's processes (the process group of
    `featreg serve`), of PostgreSQL's processes, of this client, and of the whole machine
    (busy time of all cores, /proc/stat), from /proc (Linux). A PostgreSQL backend that exits
    between two readings takes its time with it; the machine figure does not."""
    tick = os.sysconf("SC_CLK_TCK")
    own = os.times()
    busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(busy[3]) + int(busy[4])  # idle + iowait
    totals = {"server": 0.0, "postgres": 0.0, "client": own.user + own.system,
              "machine": (sum(int(v) for v in busy[:8]) - idle) / tick}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[2]) == root:  # process group id
            totals["server"] += used
        elif command.startswith(b"postgres"):
            totals[f"postgres:{entry.name}"] = used
    return totals


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def line(label: str, values: list[float]) -> str:
    return (f"  {label:<22} n={len(values):>6}  p50 {pct(values, .5):8.1f} ms  "
            f"p95 {pct(values, .95):8.1f} ms  p99 {pct(values, .99):8.1f} ms")


def report(results: list[Result], elapsed: float, rate: float, overload: bool) -> None:
    ok = [r for r in results if 200 <= r.status < 300]
    refused = [r for r in results if r.status == 503]
    errors = [r for r in results if not 200 <= r.status < 300 and r.status != 503]
    print(f"\nrequests sent {len(results)} in {elapsed:.1f} s: achieved "
          f"{len(results) / elapsed:.1f} req/s (target {rate:g}); "
          f"served 2xx {len(ok) / elapsed:.1f}/s")
    print("latency of answered 2xx requests:")
    print(line("reads", [r.latency for r in ok if r.kind not in WRITES]))
    print(line("writes", [r.latency for r in ok if r.kind in WRITES]))
    for kind, _ in MIX:
        print(line(f"  {kind}", [r.latency for r in ok if r.kind == kind]))
    codes = Counter("no answer" if r.status == 0 else str(r.status) for r in results)
    print("status codes:", ", ".join(f"{code}: {n}" for code, n in sorted(codes.items())))
    by_kind = Counter((r.kind, r.status) for r in results)
    for kind, _ in MIX:
        row = {status: n for (k, status), n in by_kind.items() if k == kind}
        print(f"  {kind:<12} " + ", ".join(f"{s or 'no answer'}: {n}"
                                            for s, n in sorted(row.items())))
    print(f"errors (not 2xx, not 503): {len(errors)}")
    with_retry = sum(r.retry_after for r in refused)
    print(f"refused (503): {len(refused)} ({with_retry} with Retry-After)"
          + (f"; refusal latency p50 {pct([r.latency for r in refused], .5):.1f} ms, "
             f"p99 {pct([r.latency for r in refused], .99):.1f} ms" if refused else ""))
    slow = sorted(r.at for r in results if r.status == 503 or r.latency > 0.2)
    if slow:  # bunched in a few seconds: stalls; spread out: short of capacity
        per_second = Counter(int(at) for at in slow)
        print("refused or slower than 200 ms, by second of the run (second: count): "
              + ", ".join(f"{s}: {n}" for s, n in sorted(per_second.items())))
    if overload:
        print(f"overload: {len(refused)} of {len(results)} refused "
              f"({100 * len(refused) / max(1, len(results)):.1f}%)")
    reads = [r.latency for r in ok if r.kind not in WRITES]
    searches = [r.latency for r in ok if r.kind == "search"]
    figures = [
        Figure("served 2xx requests/s", len(ok) / elapsed, "req/s", baseline=rate,
               baseline_name="rate asked", target=None if overload else 0.95 * rate,
               higher_is_better=True),
        Figure("read p99", pct(reads, .99) / 1000, baseline=pct(searches, .5) / 1000,
               baseline_name="search p50", target=None if overload else 0.2),
        *(Figure(f"{kind} p95", pct([r.latency for r in ok if r.kind == kind], .95) / 1000)
          for kind, _ in MIX),
        Figure("errors (not 2xx, not 503)", len(errors), "", target=0),
        Figure("refused (503)", len(refused), "", note=f"{with_retry} with Retry-After"),
    ]
    benchlib_report("load_test.py" + (" --overload" if overload else ""), figures,
                    rate=rate)


def verify(url: str, plan: Plan, results: list[Result]) -> bool:
    """Every accepted usage event counted once; every accepted OpenLineage event stored once."""
    accepted_usage = [r for r in results if r.kind == "usage" and 200 <= r.status < 300]
    sent_usage = [r for r in results if r.kind == "usage"]
    accepted_runs = {r.key for r in results if r.kind == "openlineage" and 200 <= r.status < 300}
    unanswered_runs = {r.key for r in results
                       if r.kind == "openlineage" and not 200 <= r.status < 300}
    engine = create_engine(url)
    with engine.connect() as conn:
        reads = conn.execute(text("SELECT COALESCE(SUM(reads), 0) FROM usage_daily "
                                  "WHERE principal LIKE :p"),
                             {"p": f"load_{plan.tag}_%"}).scalar_one()
        rows = conn.execute(text("SELECT run_id, COUNT(*) FROM openlineage_events "
                                 "WHERE job_name LIKE :p GROUP BY run_id"),
                            {"p": f"load_{plan.tag}_job_%"}).all()
    engine.dispose()
    stored = dict((str(run_id), int(n)) for run_id, n in rows)
    missing = accepted_runs - stored.keys()
    doubled = [run_id for run_id, n in stored.items() if n != 1]
    extra = stored.keys() - accepted_runs
    usage_ok = int(reads) == len(accepted_usage)
    lineage_ok = not missing and not doubled and not (extra - unanswered_runs)
    print(f"\nverify usage: {len(accepted_usage)} accepted of {len(sent_usage)} sent, "
          f"usage_daily.reads sum {reads} -> {'OK' if usage_ok else 'MISMATCH'}")
    print(f"verify OpenLineage: {len(accepted_runs)} accepted, {len(stored)} runIds stored, "
          f"missing {len(missing)}, stored more than once {len(doubled)}, stored though not "
          f"acknowledged {len(extra)} -> {'OK' if lineage_ok else 'MISMATCH'}")
    return usage_ok and lineage_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=200.0, help="target requests/s")
    parser.add_argument("--overload", action="store_true", help="run at twice --rate")
    parser.add_argument("--max-requests", type=int, default=200_000,
                        help="hard cap on the requests sent")
    parser.add_argument("--clients", type=int, default=64,
                        help="client threads (each one request at a time)")
    parser.add_argument("--features", type=int, default=5000, help="catalog size")
    parser.add_argument("--workers", type=int, default=None, help="server worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per server worker")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    if not 0 < args.duration <= 3600 or not 0 < args.rate <= 5000:
        parser.error("--duration must be in (0, 3600] and --rate in (0, 5000]")
    rate = args.rate * (2 if args.overload else 1)

    featreg = str(Path(sys.executable).with_name("featreg"))
    tag = secrets.token_hex(4)
    dbname = f"featreg_load_{tag}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    print(f"database {dbname}; load average before {os.getloadavg()}")
    server: subprocess.Popen[bytes] | None = None
    ok = False
    try:
        env = {k: v for k, v in os.environ.items() if k != "FEATREG_ALLOWED_HOSTS"}
        run([featreg, "--db", url, "init"], env=env)
        began = time.monotonic()
        names = build_catalog(url, args.features)
        print(f"catalog of {len(names)} features loaded in {time.monotonic() - began:.1f} s")
        token = run([featreg, "--db", url, "token", "create", "--admin", "--name", "load"],
                    env=env).strip().splitlines()[-1].strip()
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="featreg_load_"))
        log = workdir / "serve.log"
        env["FEATREG_GRAPH_CACHE_DIR"] = str(workdir / "graphs")
        command = [featreg, "--db", url, "serve", "--port", str(port), "--no-scheduler",
                   "--threads", str(args.threads)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        with open(log, "wb") as output:
            server = subprocess.Popen(command, stdout=output, stderr=output, env=env,
                                      start_new_session=True)
        wait_healthy(port, server, log)
        wait_ready(log)
        print(f"server on port {port} ({log}); {args.clients} clients, target {rate:g} req/s "
              f"for {args.duration:g} s{' (overload: 2x)' if args.overload else ''}")
        plan = Plan(names, tag, token)
        warm_up(port)
        load_start = os.getloadavg()
        cpu_start = cpu_seconds(server.pid)
        results, elapsed = drive(port, plan, rate, args.duration, args.max_requests,
                                 args.clients)
        cpu_end = cpu_seconds(server.pid)
        load_end = os.getloadavg()
        report(results, elapsed, rate, args.overload)
        answered = sum(1 for r in results if r.status)
        served = sum(1 for r in results if 200 <= r.status < 300)
        for key, used in cpu_end.items():  # backends still running at the end
            if key.startswith("postgres:"):
                cpu_end["postgres"] += used - cpu_start.get(key, 0.0)
        cpu_start["postgres"] = 0.0
        for part in ("server", "postgres", "client", "machine"):
            used = cpu_end[part] - cpu_start[part]
            print(f"{part} CPU {used:.1f} s ({used / elapsed:.2f} cores): "
                  f"{1000 * used / max(1, served):.1f} ms per 2xx request "
                  f"({answered} answered)")
        print(f"load average (1, 5, 15 min): at start {load_start}, at end {load_end}; "
              f"{os.cpu_count()} cores")
        time.sleep(1)  # let any request still running on the server finish
        ok = verify(url, plan, results)
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if args.keep_db:
            print(f"kept database {url}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
