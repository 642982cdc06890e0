"""Analysis settings: every threshold a detector uses, declared as data.

Each field of `Settings` carries its documentation and the environment variable that overrides
it (``FEATREG_`` + the field name in capitals), so the README table is generated from here
(`Settings.documentation`) and a test can prove that every setting is documented.

Defaults follow the definitions in DESIGN.md ("Finding kinds"); none is tuned to a data set.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, get_type_hints

from registry.core.errors import FeatregError

__all__ = ["ENV_PREFIX", "SettingDoc", "Settings", "SettingsError"]

ENV_PREFIX = "FEATREG_"

SettingDoc = tuple[str, Any, str, str]
"""(field name, default value, environment variable, documentation)."""


class SettingsError(FeatregError, ValueError):
    """A setting has a value it cannot take; the message names the variable or field."""


def _setting(default: Any, doc: str, *, minimum: float | None = None,
             maximum: float | None = None) -> Any:
    """A dataclass field with its documentation and allowed range in the metadata."""
    return field(default=default, metadata={"doc": doc, "min": minimum, "max": maximum})


@dataclass(frozen=True)
class Settings:
    """Thresholds of the analysis. Construct with keywords, or `Settings.from_env()`."""

    legacy_window_days: int = _setting(
        90, "A feature with no observed reads for this many days (counted back from the "
        "analysis time) is legacy.", minimum=1)
    legacy_grace_days: int = _setting(
        30, "A feature younger than this (since `created`) is never legacy for lack of reads.",
        minimum=0)
    superseded_correlation: float = _setting(
        0.95, "|Pearson| or |Spearman| at or above which a newer feature can supersede an "
        "older one (legacy, superseded).", minimum=0.0, maximum=1.0)
    superseded_share: float = _setting(
        0.01, "An older feature is superseded when its largest importance share is below this "
        "and the newer correlated feature's largest share is at least this.",
        minimum=0.0, maximum=1.0)
    bundle_min_size: int = _setting(
        3, "Fewest features a bundle needs before its members can be reported as bundled.",
        minimum=2)
    bundle_changeset_min: int = _setting(
        2, "Fewest features one change set (an apply or SDK batch) must add to form a bundle.",
        minimum=1)
    bundle_changeset_max: int = _setting(
        50, "Most features one change set may add and still form a bundle; a larger bulk "
        "import is not a bundle.", minimum=1)
    bundle_member_share: float = _setting(
        0.01, "A bundle member whose importance share is below this for every consumer is "
        "bundled; members at or above it are the bundle's valuable members.",
        minimum=0.0, maximum=1.0)
    epsilon_share: float = _setting(
        0.01, "A feature (not in a bundle) whose largest importance share over all consumers "
        "is below this is epsilon.", minimum=0.0, maximum=1.0)
    correlated_threshold: float = _setting(
        0.95, "|Pearson| or |Spearman| at or above which two features are redundant "
        "(correlated finding; clusters are connected components).", minimum=0.0, maximum=1.0)
    correlation_report_threshold: float = _setting(
        0.8, "Smallest |correlation| kept from a snapshot as a correlated pair (shown as "
        "evidence; findings need `correlated_threshold`).", minimum=0.0, maximum=1.0)
    importance_noise_k: float = _setting(
        3.0, "Computed importance is taken as zero unless it exceeds this many standard errors "
        "(permutation: std * sqrt(1 + 1/repeats); leave-one-out: std / sqrt(repeats); see "
        "registry.analysis.computed_importance.is_noise).", minimum=0.0)
    importance_noise_floor: float = _setting(
        0.001, "Computed importance at or below this many score units is taken as zero.",
        minimum=0.0)
    usage_window_days: int = _setting(
        90, "Reads within this many days count as current use (undeclared consumers, "
        "deprecated features in use, usage tie-breaks).", minimum=1)
    feedback_max_cycles: int = _setting(
        10_000, "Most feedback-loop cycles enumerated in one analysis (guards against a "
        "combinatorial explosion in a densely connected catalog).", minimum=1)

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for item in fields(self):
            value = getattr(self, item.name)
            expected = hints[item.name]
            if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise SettingsError(f"setting {item.name} must be an integer, got {value!r}")
            if expected is float:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SettingsError(f"setting {item.name} must be a number, got {value!r}")
                if not math.isfinite(value):
                    raise SettingsError(f"setting {item.name} must be finite, got {value!r}")
            low, high = item.metadata.get("min"), item.metadata.get("max")
            if low is not None and value < low:
                raise SettingsError(f"setting {item.name} must be at least {low}, got {value!r}")
            if high is not None and value > high:
                raise SettingsError(f"setting {item.name} must be at most {high}, got {value!r}")
        if self.bundle_changeset_min > self.bundle_changeset_max:
            raise SettingsError(
                "setting bundle_changeset_min must not exceed bundle_changeset_max "
                f"({self.bundle_changeset_min} > {self.bundle_changeset_max})")

    @staticmethod
    def env_name(name: str) -> str:
        """The environment variable that overrides setting ``name``."""
        return ENV_PREFIX + name.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, overridden by ``FEATREG_<NAME>`` variables, then by keyword ``overrides``.

        Raises `SettingsError` naming the variable when a value cannot be converted or is out
        of range.
        """
        environ = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for item in fields(cls):
            variable = cls.env_name(item.name)
            raw = environ.get(variable)
            if raw is None:
                continue
            value = _convert(raw.strip(), hints[item.name], variable)
            try:
                replace(cls(), **{item.name: value})
            except SettingsError as error:
                raise SettingsError(f"{variable}={raw!r}: {error}") from None
            values[item.name] = value
        return cls(**{**values, **overrides})

    @classmethod
    def documentation(cls) -> list[SettingDoc]:
        """One row per setting: (name, default, environment variable, documentation)."""
        rows: list[SettingDoc] = []
        for item in fields(cls):
            default = item.default if item.default is not MISSING else None
            rows.append((item.name, default, cls.env_name(item.name), item.metadata["doc"]))
        return rows


def _convert(raw: str, expected: Any, variable: str) -> Any:
    if expected is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{variable}={raw!r} is not a whole number") from None
    if expected is float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{variable}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise SettingsError(f"{variable}={raw!r} is not a finite number")
        return value
    if expected is bool:
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{variable}={raw!r} is not true or false")
    return raw
