"""Durations as the spec writes them: ``30m``, ``6h``, ``1d``, ``7d``, ``2w`` (Zinkevich's rule 8:
how old a source's latest update may be).

`parse_duration` reads one (a positive whole number, then ``s``, ``m``, ``h``, ``d`` or ``w``)
and returns a `timedelta`; anything else is an `InvalidDuration` naming the value.
`format_duration` writes a timedelta back in the same style (largest whole unit).
"""

from __future__ import annotations

import re
from datetime import timedelta

from registry.core.errors import FeatregError

__all__ = ["InvalidDuration", "format_duration", "parse_duration"]

UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhdw])")
MAX = timedelta(days=3660)


class InvalidDuration(FeatregError, ValueError):
    """Text that is not a duration such as 30m, 6h, 1d or 7d."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidDuration(
            f"{text!r} is not a duration: write a whole number and a unit, "
            "s, m, h, d or w (30m, 6h, 1d, 7d)")
    value = timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    if value > MAX:
        raise InvalidDuration(f"{text!r} is longer than ten years")
    return value


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=36)`` -> ``"1d 12h"``; a negative duration gets a leading ``-``."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return sign + " ".join(parts[:2])
