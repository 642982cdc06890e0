"""Overload (issue 11): past capacity a request is refused quickly with 503 and Retry-After,
nothing is stored for a refused write, health and metrics still answer, and a request whose
client has gone is dropped before any work."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from conftest import admin_token
from featreg.web import create_app
from featreg.web.admission import Admission
from sqlalchemy import func, select
from werkzeug.test import Client

from registry.store import models as m
from registry.store.db import session_factory, session_scope

USAGE = [{"ts": "2026-11-01T12:00:00Z", "consumer": "ctr_model",
          "features": ["user_clicks_7d"], "count": 1}]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """The web tests' catalog on SQLite (shared by the module) or on PostgreSQL (built anew)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("catalog_url"))
    from web_catalog import build_catalog

    url = str(request.getfixturevalue("pg_url"))
    build_catalog(url, tmp_path)
    return url


def _reads(url: str) -> int:
    with session_scope(session_factory(url)) as session:
        return int(session.scalar(select(func.coalesce(func.sum(m.UsageDaily.reads), 0))
                                  .where(m.UsageDaily.day == date(2026, 11, 1),
                                         m.UsageDaily.principal == "ctr_model")) or 0)


def test_a_saturated_worker_refuses_fast_with_retry_after_and_stores_nothing(
        catalog: str) -> None:
    app = create_app({"DATABASE_URL": catalog, "TESTING": True, "ADMISSION_SLOTS": 2})
    assert isinstance(app.wsgi_app, Admission)
    release = threading.Event()
    inner = app.wsgi_app.app

    def blocking(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":  # a request that holds its slot
            assert release.wait(30)
        return inner(environ, start_response)

    app.wsgi_app.app = blocking
    client = Client(app.wsgi_app, use_cookies=False)
    headers = {"Authorization": f"Bearer {admin_token(catalog)}"}
    before = _reads(catalog)
    with ThreadPoolExecutor(4) as pool:
        holders = [pool.submit(client.get, "/slow") for _ in range(2)]  # every slot taken
        time.sleep(0.3)
        start = time.perf_counter()
        refused = [client.post("/api/v1/usage", json=USAGE, headers=headers)
                   for _ in range(5)]
        elapsed = time.perf_counter() - start
        assert [r.status_code for r in refused] == [503] * 5
        assert all(r.headers["Retry-After"] == "1" for r in refused)
        assert elapsed < 5 * 0.5  # ~100 ms each: refused quickly, not queued
        assert client.get("/healthz").status_code in (200, 503)  # exempt: answered at once
        assert client.get("/metrics").status_code == 200
        assert _reads(catalog) == before  # nothing stored for the refused writes
        release.set()
        for holder in holders:  # a server closes each response: that frees its slot
            response = holder.result()
            assert response.status_code == 404
            response.close()
    accepted = client.post("/api/v1/usage", json=USAGE, headers=headers)  # slots free again
    assert accepted.status_code == 201
    assert _reads(catalog) == before + 1


def test_a_request_whose_client_has_gone_or_waited_too_long_is_dropped(
        catalog: str) -> None:
    app = create_app({"DATABASE_URL": catalog, "TESTING": True, "ADMISSION_SLOTS": 2})
    client = Client(app.wsgi_app)
    headers = {"Authorization": f"Bearer {admin_token(catalog)}"}
    before = _reads(catalog)
    ours, theirs = socket.socketpair()
    theirs.close()  # the client gave up while its request waited in the queue
    gone = client.post("/api/v1/usage", json=USAGE, headers=headers,
                       environ_overrides={"gunicorn.socket": ours})
    ours.close()
    assert gone.status_code == 503
    stale = client.post("/api/v1/usage", json=USAGE, headers={
        **headers, "X-Request-Start": f"t={int((time.time() - 120) * 1000)}"})
    assert stale.status_code == 503
    assert _reads(catalog) == before
    ours, theirs = socket.socketpair()  # still connected: served
    fresh = client.post("/api/v1/usage", json=USAGE, headers={
        **headers, "X-Request-Start": f"t={time.time():.3f}"},
        environ_overrides={"gunicorn.socket": ours})
    ours.close()
    theirs.close()
    assert fresh.status_code == 201
    assert _reads(catalog) == before + 1


def test_a_refused_client_keeps_its_connection_a_gone_one_does_not() -> None:
    """A 503 at capacity leaves the keep-alive connection open (a client told to retry should
    not pay a new connection when the server is busiest); a dropped request closes it."""
    def app(_environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    admission = Admission(app, slots=1, wait=0.0)
    assert admission.slots.acquire()  # the one slot is taken
    busy = Client(admission).get("/features")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert "Connection" not in busy.headers
    gone = Client(admission).get("/features", headers={"X-Request-Start": "t=1"})
    assert gone.status_code == 503 and gone.headers["Connection"] == "close"
