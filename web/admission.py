"""Overload: refuse quickly what cannot be served, never work for a client that has gone.

`Admission` is WSGI middleware around the Flask app, one per worker process:

* at most `slots` requests run the app at once; a request that gets no slot within `wait`
  seconds is answered 503 with ``Retry-After: 1`` at once (cheap: no database, no view),
  so past capacity clients learn it in ~100 ms instead of timing out in a growing queue.
  `featreg serve` gives gunicorn twice as many threads as slots: the extra threads take
  queued connections off gunicorn's queue and answer them, so its queue stays short.
* a request whose client is already gone is dropped before any work: gunicorn hands the
  connection's socket to the app (``gunicorn.socket``); a peek that reads end-of-file means
  the client closed it (it gave up while the request waited), so nothing is stored for it.
  Behind a proxy that stamps ``X-Request-Start: t=<epoch seconds|ms|µs>``, a request that
  waited longer than `max_age` seconds is dropped too (its client has timed out).
* ``/healthz``, ``/metrics`` and static files are exempt: monitoring sees an overloaded
  server as it is.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

EXEMPT = ("/healthz", "/metrics", "/static/")
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Admission:
    def __init__(self, app: WsgiApp, slots: int, *, wait: float = 0.1,
                 max_age: float | None = 30.0) -> None:
        self.app = app
        self.slots = threading.BoundedSemaphore(slots)
        self.wait = wait
        self.max_age = max_age
        self.refused = 0
        self.dropped = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(EXEMPT):
            return self.app(environ, start_response)
        if _client_gone(environ) or self._too_old(environ):
            self.dropped += 1
            return _unavailable(start_response, "the client is gone", close=True)
        if not self.slots.acquire(timeout=self.wait):
            self.refused += 1
            return _unavailable(start_response, "the server is at capacity; retry shortly")
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self.slots.release()
            raise
        return ClosingIterator(result, [self.slots.release])

    def _too_old(self, environ: dict[str, Any]) -> bool:
        stamp = environ.get("HTTP_X_REQUEST_START", "")
        if self.max_age is None or not stamp:
            return False
        try:
            value = float(stamp.removeprefix("t="))
        except ValueError:
            return False
        while value > 1e11:  # milliseconds or microseconds since the epoch
            value /= 1000.0
        return time.time() - value > self.max_age


def _client_gone(environ: dict[str, Any]) -> bool:
    """Whether the client closed the connection (gunicorn's socket reads end-of-file)."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # connected, nothing more sent
    except OSError:
        return True  # reset by the peer


def _unavailable(start_response: StartResponse, message: str, *, close: bool = False
                 ) -> list[bytes]:
    """503 with Retry-After. The connection stays open (a client told to retry would
    otherwise pay a new connection, and the server its accept, when it is busiest), except
    for a client that is gone."""
    body = json.dumps({"error": "Service Unavailable", "status": 503,
                       "message": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Retry-After", "1")]
    start_response("503 SERVICE UNAVAILABLE", headers + ([("Connection", "close")]
                                                         if close else []))
    return [body]
