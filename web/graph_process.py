"""Long-lived `dot -Tsvg` processes that lay out one graph after another.

Starting Graphviz costs about 2 ms of CPU (loading its libraries and plugins) before it lays
out anything, and forking a large Python process costs about 1 ms more: for a feature's
neighbourhood that is more than the layout itself. `dot` reads any number of graphs from its
standard input and writes each graph's SVG as soon as it has laid it out, so a worker keeps a
few running and sends each graph to an idle one.

A process is used by one request at a time (a queue of idle ones). An answer is complete when
its closing ``</svg>`` arrives (labels are escaped, so that text appears nowhere else). A
process that does not answer within the time limit, or that fails, is killed and the caller
gets `DotUnavailable`: `graph_render` then runs `dot` once, as before, which reports errors
and falls back to `sfdp`. Each process is replaced after `MAX_GRAPHS` graphs (Graphviz is
not meant to live forever).
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import selectors
import subprocess
import threading
import time

MAX_GRAPHS = 500
END = b"</svg>\n"
_PAGE_ID = re.compile(r'id="page\d+,\d+_graph0"')
"""From its second graph on, `dot` names each graph's group ``page0,N_graph0``; a run of its
own names it ``graph0``: renamed back, the SVG is byte for byte what a run of its own gives."""


class DotUnavailable(RuntimeError):
    """The long-lived process could not lay out this graph (a crash, no process)."""


class DotTimeout(DotUnavailable):
    """The layout took longer than the time limit (the process was killed)."""


class _Dot:
    def __init__(self, program: str, env: dict[str, str] | None) -> None:
        self.process = subprocess.Popen(
            [program, "-Kdot", "-Tsvg"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env, bufsize=0)
        self.graphs = 0

    def render(self, source: str, timeout: float) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(source.encode("utf-8") + b"\n")
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        tail = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not tail.endswith(END):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise DotTimeout("Graphviz dot took too long")
                chunk = os.read(self.process.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise DotUnavailable("Graphviz dot stopped")
                chunks.append(chunk)
                tail = (tail + chunk)[-len(END):]
        self.graphs += 1
        return _PAGE_ID.sub('id="graph0"', b"".join(chunks).decode("utf-8"), count=1)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class DotPool:
    """At most `size` long-lived `dot` processes, started when first needed."""

    def __init__(self, program: str, env: dict[str, str] | None, size: int = 2) -> None:
        self.program, self.env, self.size = program, env, size
        self.idle: queue.LifoQueue[_Dot] = queue.LifoQueue()
        self.started = 0
        self.lock = threading.Lock()
        atexit.register(self.close)

    def render(self, source: str, timeout: float) -> str:
        """The SVG of one graph laid out with `dot` (DotUnavailable: use a one-shot run). A
        process that turns out dead is replaced and the graph sent once more."""
        for attempt in (1, 2):
            dot = self._take(timeout)
            try:
                svg = dot.render(source, timeout)
            except DotTimeout:
                self._retire(dot)
                raise
            except (OSError, DotUnavailable) as exc:
                self._retire(dot)
                if attempt == 2:
                    raise DotUnavailable(str(exc)) from exc
                continue
            except BaseException:  # anything else: the process's state is unknown; a process
                self._retire(dot)  # neither returned nor retired would be lost to the pool
                raise
            if dot.graphs >= MAX_GRAPHS:
                self._retire(dot)
            else:
                self.idle.put(dot)
            return svg
        raise AssertionError("unreachable")

    def _take(self, timeout: float) -> _Dot:
        while True:  # an idle process that has died since (killed, out of memory) is replaced
            try:
                dot = self.idle.get_nowait()
            except queue.Empty:
                break
            if dot.process.poll() is None:
                return dot
            self._retire(dot)
        with self.lock:
            start = self.started < self.size
            if start:
                self.started += 1
        if start:
            try:
                return _Dot(self.program, self.env)
            except OSError as exc:
                with self.lock:
                    self.started -= 1
                raise DotUnavailable(str(exc)) from exc
        try:
            return self.idle.get(timeout=timeout)
        except queue.Empty as exc:
            raise DotUnavailable("every Graphviz process is busy") from exc

    def _retire(self, dot: _Dot) -> None:
        dot.close()
        with self.lock:
            self.started -= 1

    def close(self) -> None:
        while True:
            try:
                self.idle.get_nowait().close()
            except queue.Empty:
                return
