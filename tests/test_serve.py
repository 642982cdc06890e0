"""`featreg serve` with several worker processes and the scheduler, as a real server.

The supervising process forks the workers and a scheduler process; each worker builds its
search index and says it is ready. Forking while another thread of the parent held a lock
(the scheduler's database connection) once left a worker waiting forever in its first
connect: every start must get every worker ready, and SIGTERM to the supervisor must stop
them all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from registry.store import models as m
from registry.store.db import session_factory, session_scope


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready_workers(log: Path, expected: int, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(p) for p in re.findall(r"worker (\d+) ready: search index",
                                           log.read_text(errors="replace"))]
        if len(pids) >= expected:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"workers not ready: {log.read_text(errors='replace')}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_and_scheduler_start_answer_and_stop_together(catalog_url: str,
                                                               tmp_path: Path) -> None:
    featreg = Path(sys.executable).with_name("featreg")
    for attempt in range(3):  # the fork hang was intermittent: start several times
        log = tmp_path / f"serve{attempt}.log"
        port = _free_port()
        with open(log, "wb") as output:
            server = subprocess.Popen([str(featreg), "--db", catalog_url, "serve", "--port",
                                       str(port), "--workers", "2", "--threads", "2"],
                                      stdout=output, stderr=output)
        try:
            workers = _ready_workers(log, 2)
            assert len(set(workers)) == 2 and server.pid not in workers
            for _ in range(6):  # several connections: the kernel spreads them over workers
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/features?q=clicks", timeout=10) as r:
                    assert json.load(r)["pagination"]["total"] >= 1
            deadline = time.monotonic() + 30
            while True:  # the scheduler process registers its jobs in the database
                with session_scope(session_factory(catalog_url)) as session:
                    jobs = session.scalar(select(func.count()).select_from(m.SchedulerJob))
                if jobs or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert jobs, log.read_text(errors="replace")
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in workers)


def test_bad_scheduler_settings_stop_serve_at_once_with_the_reason(catalog_url: str) -> None:
    featreg = Path(sys.executable).with_name("featreg")
    for workers in ("1", "2"):
        result = subprocess.run(
            [str(featreg), "--db", catalog_url, "serve", "--port", str(_free_port()),
             "--workers", workers], capture_output=True, text=True, timeout=60,
            env={**os.environ, "FEATREG_REPORT_TIMEZONE": "Not/AZone"})
        assert result.returncode == 1
        assert "FEATREG_REPORT_TIMEZONE='Not/AZone' is not an IANA timezone" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_worker_that_keeps_failing_to_start_stops_serve(catalog_url: str) -> None:
    # serve in a child Python with a short back-off (the default waits 2+4+8+16 s)
    program = ("import sys, featreg.web.cli as cli; cli.BACKOFF = 0.05; "
               "from registry.cli import main; main(sys.argv[1:])")
    result = subprocess.run(
        [sys.executable, "-c", program, "--db", catalog_url, "serve", "--no-scheduler",
         "--port", str(_free_port()), "--workers", "2"], capture_output=True, text=True,
        timeout=120, env={**os.environ, "FEATREG_GRAPH_CACHE_SIZE": "not a number"})
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.count("starting another") == 4
    assert "5 times in a row right after starting; stopping" in result.stderr
    # the workers' own error is shown: the web section names the variable
    assert "FEATREG_GRAPH_CACHE_SIZE='not a number' is not a whole number" in result.stderr
