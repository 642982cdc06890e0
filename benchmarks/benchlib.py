"""What every benchmark script shares: a figure beside its baseline, the table, the JSON.

A `Figure` is one measurement with the baseline measured in the same run (the floor or the
alternative a user would otherwise use) and, where the issues set one, a target. `report`
prints the figures as a table and, when `make bench` (benchmarks/run_all.py) runs the script,
appends them as one JSON line to the file named by ``FEATREG_BENCH_JSON`` so the suite can
gather every script's figures into one table and one JSON file.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_ENV = "FEATREG_BENCH_JSON"


@dataclass
class Figure:
    """`value` in `unit`; `baseline` (same unit) measured in the same run; `target` from the
    issue; `higher_is_better` for rates (events/s), otherwise lower is better (seconds)."""

    name: str
    value: float
    unit: str = "s"
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times the baseline (slower or faster, as the unit reads)."""
        if not self.baseline or not self.value:
            return None
        return self.value / self.baseline

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "pass" if met else "MISS"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def peak_rss_mib() -> float:
    """This process's peak resident memory so far. Linux's VmHWM starts afresh at exec, while
    ru_maxrss keeps the parent's peak across fork + exec (so a child started by a large parent
    would report the parent's figure)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mib() -> float:
    """The largest peak resident memory of the finished child processes waited for."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def table(rows: Iterable[dict[str, Any]], *, script_column: bool = False) -> str:
    """The figures (as `Figure` dicts) as a plain-text table."""
    head = ["figure", "measured", "baseline", "ratio", "target", ""]
    if script_column:
        head.insert(0, "script")
    lines = []
    for row in rows:
        figure = Figure(**{k: row[k] for k in Figure.__dataclass_fields__ if k in row})
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else ""
        baseline = fmt(figure.baseline, figure.unit)
        if baseline and figure.baseline_name:
            baseline += f" ({figure.baseline_name})"
        cells = [figure.name, fmt(figure.value, figure.unit), baseline, ratio,
                 fmt(figure.target, figure.unit), figure.verdict]
        if script_column:
            cells.insert(0, str(row.get("script", "")))
        lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(head, *lines, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    out.append("-" * len(out[0]))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            for cells in lines]
    return "\n".join(out)


def report(script: str, figures: list[Figure], **meta: Any) -> None:
    """Print the table; append the figures to ``$FEATREG_BENCH_JSON`` when it is set."""
    rows = [asdict(f) | {"verdict": f.verdict, "ratio": f.ratio} for f in figures]
    print(f"\n{script}")
    print(table(rows))
    destination = os.environ.get(RESULTS_ENV)
    if destination:
        record = {"script": script, "figures": rows, "meta": meta,
                  "load_average": os.getloadavg()[0]}
        with Path(destination).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
