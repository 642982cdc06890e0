"""DOT to SVG with Graphviz, cached by content, and cleaned for inlining into pages.

Rendering the same DOT source twice gives the same SVG, so the SVG is cached by the source:
in memory (an LRU of `cache_size` graphs) and, when `cache_dir` is set, on disk as
``<sha256 of engine and source>.svg`` (shared by every worker process, kept across restarts).

`dot` is run with only the plugins it needs for SVG (core and layouts, no cairo/pango/gd):
loading the rest costs ~30 ms per run, more than laying out a feature's neighbourhood; label
widths then come from Graphviz's own font metrics. Where that set-up is not possible, the
system's plugin configuration is used as is.

Layout engines: `dot` (layered, clusters) for graphs it lays out quickly; `sfdp`
(force-directed, scales to thousands of nodes) for large or dense ones — `choose_engine`
decides from the size, and a `dot` run that exceeds its time budget is redone with `sfdp`.

The SVG is inlined into pages so its node links work; before that it is parsed and cleaned:
only drawing elements are kept (no script, foreignObject or embedded documents), no event
handler attributes, and links only to this site (relative URLs) or to fragments.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from .graph_process import DotPool, DotTimeout, DotUnavailable

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

ALLOWED_ELEMENTS = {"svg", "g", "title", "desc", "a", "path", "polygon", "polyline", "ellipse",
                    "circle", "rect", "line", "text", "tspan", "defs", "linearGradient",
                    "radialGradient", "stop"}
HREF_ATTRIBUTES = {"href", f"{{{XLINK_NS}}}href"}
DOT_MAX_NODES = 300
DOT_MAX_EDGES = 800
DOT_TIMEOUT = 4.0
SFDP_TIMEOUT = 20.0
SFDP_FLAGS = ["-Goverlap=prism", "-Gsplines=false", "-Goutputorder=edgesfirst"]
SFDP_BIG_FLAGS = ["-Goverlap=scale", "-Gsplines=false", "-Goutputorder=edgesfirst"]
SFDP_BIG_LINES = 2500
"""A DOT source of more lines (about nodes + edges) is spread apart by scaling rather than
by prism overlap removal, whose time grows too fast (5,000 nodes: over a minute, against
about 10 s)."""


def choose_engine(nodes: int, edges: int) -> str:
    """`dot` while the layered layout stays fast, `sfdp` beyond (measured: dot needs seconds
    once a few hundred nodes carry a thousand or more long edges; sfdp stays under one)."""
    return "dot" if nodes <= DOT_MAX_NODES and edges <= DOT_MAX_EDGES else "sfdp"


class GraphRenderError(RuntimeError):
    """Graphviz could not draw a graph (the message says why)."""


def dot_key(source: str, engine: str = "dot") -> str:
    return hashlib.sha256(f"{engine}\n{source}".encode()).hexdigest()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _safe_href(value: str) -> bool:
    return value.startswith("#") or (value.startswith("/") and not value.startswith("//"))


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_comments=True, remove_pis=True, huge_tree=False)
"""No entity expansion, no DTD, no network: Graphviz's SVG needs none of them."""


def _attribute_rule(name: str) -> str:
    """What to do with an attribute of this name: keep, drop (event handlers), check its
    value as a style or as a link."""
    local = _local(name).lower()
    if local.startswith("on"):
        return "drop"
    if local == "style":
        return "style"
    if name in HREF_ATTRIBUTES:
        return "href"
    return "keep"


_ATTRIBUTE_RULES: dict[str, str] = {}


def clean_svg(svg: str) -> str:
    """The <svg> element alone, with everything that is not plain drawing removed: other
    elements, event handlers, styles that load URLs, links that leave the site. Parsed and
    written by libxml2 (lxml), one pass over the elements in between, a rule per attribute
    name: about half the time of ElementTree's parse and Python serialiser."""
    try:
        root = etree.fromstring(svg[svg.index("<svg"):].encode("utf-8"), _PARSER)
    except (ValueError, etree.XMLSyntaxError) as exc:
        raise GraphRenderError(f"Graphviz returned unreadable SVG: {exc}") from exc
    if root is None or not isinstance(root.tag, str) or _local(root.tag) != "svg":
        raise GraphRenderError("Graphviz returned something other than SVG")
    foreign = []
    rules = _ATTRIBUTE_RULES
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or _local(tag) not in ALLOWED_ELEMENTS:
            foreign.append(element)
            continue
        for name in element.keys():
            rule = rules.get(name)
            if rule is None:
                rule = rules[name] = _attribute_rule(name)
            if rule == "keep":
                continue
            value = element.get(name) or ""
            if rule == "drop" or (rule == "style" and "url(" in value.lower()) \
                    or (rule == "href" and not _safe_href(value)):
                del element.attrib[name]
    for element in foreign:
        parent = element.getparent()
        if parent is not None:
            _remove_keeping_tail(parent, element)
    return str(etree.tostring(root, encoding="unicode"))


def _remove_keeping_tail(parent: Any, element: Any) -> None:
    """Remove an element and what it holds, but not the text that follows it (lxml keeps
    that text on the element, ElementTree's model the same; removing it would drop it)."""
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


class SvgRenderer:
    """Renders DOT to cleaned SVG with Graphviz, with a memory and disk cache."""

    def __init__(self, cache_size: int = 256, cache_dir: str | os.PathLike[str] | None = None,
                 dot_timeout: float = DOT_TIMEOUT) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.dot_timeout = dot_timeout
        self._cached = lru_cache(maxsize=cache_size)(self._render_uncached)

    def render(self, source: str, engine: str = "dot") -> str:
        """Cleaned SVG of a DOT source (from a cache when it was drawn before)."""
        return self._cached(source, engine)

    def cache_info(self) -> tuple[int, int, int | None, int]:
        """(hits, misses, maxsize, currsize) of the in-memory cache."""
        return tuple(self._cached.cache_info())  # type: ignore[return-value]

    def clear(self) -> None:
        self._cached.cache_clear()

    def _render_uncached(self, source: str, engine: str) -> str:
        path = self.cache_dir / f"{dot_key(source, engine)}.svg" if self.cache_dir else None
        if path is not None and path.is_file():
            return path.read_text(encoding="utf-8")
        try:
            raw = _run(source, engine, self.dot_timeout if engine == "dot" else SFDP_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            if engine != "dot":
                raise GraphRenderError(f"Graphviz {engine} took too long; draw fewer "
                                       "nodes") from exc
            try:
                raw = _run(source, "sfdp", SFDP_TIMEOUT)
            except subprocess.TimeoutExpired as exc:
                raise GraphRenderError("Graphviz took too long; draw fewer nodes") from exc
        svg = clean_svg(raw)
        if path is not None:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(svg)
            os.replace(tmp, path)
        return svg


_pools: dict[int, DotPool] = {}
_pools_lock = threading.Lock()
DOT_PROCESSES = 3
"""Long-lived `dot` processes per worker process (web.graph_process)."""


def _pool(program: str) -> DotPool:
    """This process's pool (a forked child starts its own)."""
    with _pools_lock:
        pool = _pools.get(os.getpid())
        if pool is None:
            pool = _pools[os.getpid()] = DotPool(program, lean_environment(program),
                                                 DOT_PROCESSES)
        return pool


_dot: str | None = None


def _dot_program() -> str | None:
    """Where `dot` is on PATH (None: not installed), kept once found: the look-up is a tenth
    of a small graph's drawing."""
    global _dot  # noqa: PLW0603 - one path per process
    if _dot is None:
        _dot = shutil.which("dot")
    return _dot


def _run(source: str, engine: str, timeout: float) -> str:
    """SVG from the Graphviz `dot` program with a layout engine, within a time limit: a
    layered layout from one of the long-lived processes when one answers, else (and for the
    other engines, whose flags depend on the graph) from a run of its own."""
    program = _dot_program()
    if program is None:
        raise GraphRenderError("Graphviz `dot` is not installed (Debian: graphviz)")
    if engine == "dot":
        try:
            return _pool(program).render(source, timeout)
        except DotTimeout as exc:
            raise subprocess.TimeoutExpired(program, timeout) from exc
        except DotUnavailable:
            pass  # run it once below: that run says what is wrong, if anything is
    flags: list[str] = []
    if engine == "sfdp":
        flags = SFDP_BIG_FLAGS if source.count("\n") > SFDP_BIG_LINES else SFDP_FLAGS
    done = subprocess.run([program, f"-K{engine}", "-Tsvg", *flags], input=source.encode(),
                          capture_output=True, timeout=timeout, check=False,
                          env=lean_environment(program))
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()[:500]
        raise GraphRenderError(f"Graphviz failed: {message}")
    return done.stdout.decode("utf-8")


LEAN_PLUGINS = ("core", "dot_layout", "neato_layout")


def _plugin_dir(program: str) -> Path | None:
    candidates = [Path(program).resolve().parent.parent / "lib" / "graphviz",
                  *sorted(Path("/usr/lib").glob("*/graphviz")), Path("/usr/lib/graphviz"),
                  Path("/usr/lib64/graphviz"), Path("/usr/local/lib/graphviz"),
                  Path("/opt/homebrew/lib/graphviz")]
    for folder in candidates:
        if any(folder.glob("libgvplugin_core.*")):
            return folder
    return None


@lru_cache(maxsize=1)
def lean_environment(program: str) -> dict[str, str] | None:
    """Environment variables under which `dot` loads only LEAN_PLUGINS (None: not possible,
    use the system's configuration)."""
    plugins = _plugin_dir(program)
    if plugins is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="featreg-graphviz-"))
    atexit.register(shutil.rmtree, folder, True)
    for name in LEAN_PLUGINS:
        libraries = sorted(plugins.glob(f"libgvplugin_{name}.*"), key=lambda p: len(p.name))
        if not libraries:
            return None
        (folder / libraries[0].name).symlink_to(libraries[0])
    env = {**os.environ, "GVBINDIR": str(folder)}
    try:
        subprocess.run([program, "-c"], env=env, capture_output=True, timeout=10, check=True)
        probe = subprocess.run([program, "-Tsvg"], input=b"digraph { a -> b }", env=env,
                               capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return env if b"<svg" in probe.stdout else None
