"""`featreg serve` with several worker processes and the scheduler, as a real server.

gunicorn's arbiter forks the workers, and `featreg scheduler` runs as a child process; each
worker builds its search index and says it is ready. Forking while another thread of the
parent held a lock (the scheduler's database connection) once left a worker waiting forever
in its first connect: every start must get every worker ready, a worker that dies is
replaced, SIGHUP replaces them all gracefully, and SIGTERM to `featreg serve` stops them all.
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

import pytest
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
            if attempt == 0:  # a worker that dies is replaced; SIGHUP replaces every worker
                os.kill(workers[0], signal.SIGKILL)
                respawned = _ready_workers(log, 3)[2:]
                assert respawned[0] not in workers
                server.send_signal(signal.SIGHUP)
                reloaded = _ready_workers(log, 5)[3:]
                assert not set(reloaded) & {*workers, *respawned}
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/v1/features?q=clicks", timeout=10) as r:
                    assert json.load(r)["pagination"]["total"] >= 1
                workers = [*workers, *respawned, *reloaded]
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


def _serve_patched(catalog_url: str, patch: str) -> subprocess.CompletedProcess[str]:
    """`featreg serve` (2 workers, no scheduler) in a Python process that first runs `patch`."""
    program = patch + "import sys\nfrom registry.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", program, "--db", catalog_url, "serve", "--no-scheduler",
         "--port", str(_free_port()), "--workers", "2"], capture_output=True, text=True,
        timeout=120)


def test_a_worker_that_fails_to_start_stops_serve(catalog_url: str) -> None:
    # the app factory fails in every worker (gunicorn stops rather than restart it forever)
    result = _serve_patched(catalog_url, "import featreg.web as web\n"
                                          "def broken(*args, **kwargs):\n"
                                          "    raise RuntimeError('the worker cannot start')\n"
                                          "web.create_app = broken\n")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "the worker cannot start" in result.stderr  # the worker's own error is shown
    assert "a worker failed to start" in result.stderr


def test_a_second_worker_failing_while_gunicorn_halts_still_stops_serve_cleanly(
        catalog_url: str) -> None:
    """gunicorn halts when a worker cannot boot; a second worker failing the same way while
    it stops the others raises HaltServer past gunicorn's own handler (seen in CI): serve
    still says why and exits with status 1, without a traceback of its own."""
    result = _serve_patched(catalog_url, "from gunicorn.errors import HaltServer\n"
                                          "import featreg.web.gunicorn_app as g\n"
                                          "def halted(self):\n"
                                          "    raise HaltServer('Worker failed to boot.', 3)\n"
                                          "g.FeatregGunicorn.run = halted\n")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "a worker failed to start" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_web_settings_port_in_use_or_out_of_range_stop_serve_with_the_reason(
        catalog_url: str) -> None:
    featreg = Path(sys.executable).with_name("featreg")

    def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(featreg), "--db", catalog_url, "serve", "--no-scheduler",
                               *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env})

    result = serve("--port", str(_free_port()), FEATREG_GRAPH_CACHE_SIZE="not a number")
    assert result.returncode == 1
    assert "FEATREG_GRAPH_CACHE_SIZE='not a number' is not a whole number" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = serve("--port", str(taken.getsockname()[1]))
    assert result.returncode == 1 and "already in use" in result.stderr
    for port in ("0", "70000", "-1"):
        result = serve("--port", port)
        assert result.returncode == 1 and "out of range" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_workers_threads_are_all_started_before_it_serves() -> None:
    """gunicorn's post_worker_init hook (set by `featreg serve` and by
    featreg.web.gunicorn_conf) starts every thread of the worker's pool at once, so the
    worker's first requests do not each start one in its accepting loop."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from featreg.web import gunicorn_conf
    from featreg.web.gunicorn_app import FeatregGunicorn, start_threads

    def running() -> int:
        return sum(t.name.startswith("prestart-test") for t in threading.enumerate())

    pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="prestart-test")
    try:
        assert running() == 0
        start_threads(SimpleNamespace(tpool=pool, cfg=SimpleNamespace(threads=6)))
        assert running() == 6
        assert pool.submit(lambda: 42).result(timeout=5) == 42  # the pool still works
    finally:
        pool.shutdown(wait=True)
    assert gunicorn_conf.post_worker_init.__module__ == "featreg.web.gunicorn_conf"
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        served = FeatregGunicorn("sqlite:///unused.db", listener, workers=1, threads=2,
                                 timeout=30)
        assert served.cfg.post_worker_init is start_threads


@pytest.mark.parametrize("threads", [1, 8, 12, 64])
def test_serve_keeps_a_connection_for_every_request_a_worker_admits(threads: int) -> None:
    """featreg serve admits `threads` requests at once per worker and keeps at least that many
    database connections, plus some for the background rebuilds (README, settings)."""
    from featreg.web.cli import worker_settings

    from registry.store.db import DEFAULT_POOL_SIZE

    settings = worker_settings(threads)
    slots, pool = int(settings["FEATREG_ADMISSION_SLOTS"]), \
        int(settings["FEATREG_DATABASE_POOL_SIZE"])
    assert slots == threads
    assert pool >= max(DEFAULT_POOL_SIZE, slots + 4)
