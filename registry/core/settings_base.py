"""How a Featreg setting is declared: a field of a `Section` (a frozen pydantic model) with
its default, range, documentation and environment variable; the types that read a variable's
text; and the messages that name the variable a bad value came from. The settings themselves
are in `registry.core.settings`.

Pydantic validates; a section reads its own variables (`Section.from_env`) rather than through
pydantic-settings: the variables keep their flat names (``FEATREG_SMTP_HOST``, not a nested
``FEATREG_SMTP__HOST``), a bad one is named with its text, and importing pydantic-settings
(asyncio, ssl, argparse, dotenv) would cost every `featreg` command about a tenth of a second."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NamedTuple, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from registry.core.errors import FeatregError

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

__all__ = ["ENV_PREFIX", "Flag", "Number", "OptionalText", "Schedule", "Section", "SettingDoc",
           "SettingsError", "Timezone", "Whole", "flag", "parse_schedule", "setting"]

ENV_PREFIX = "FEATREG_"
_WEEKDAY_NUMBER = re.compile(r"(?<![\d/])\d")


class SettingDoc(NamedTuple):
    """One documented setting."""

    name: str
    default: Any
    env: str
    doc: str


class SettingsError(FeatregError, ValueError):
    """A setting has a value it cannot take; the message names the variable or field."""


# -- value types: what an environment variable's text may say ---------------------------------


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _whole(value: Any) -> Any:
    if isinstance(value, bool | float):
        raise ValueError("is not a whole number")
    return _strip(value)


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("is not a number")
    try:
        number = float(_strip(value))
    except (TypeError, ValueError):
        return value  # pydantic says why
    if not math.isfinite(number):
        raise ValueError("is not a finite number")
    return number


def flag(value: Any) -> Any:
    """True or false from 1/0, true/false, yes/no, on/off (blank: false)."""
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("is not true or false")


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA timezone (e.g. Europe/Berlin)") from None
    return value


def parse_schedule(expression: str, timezone: ZoneInfo) -> CronTrigger | None:
    """A cron trigger from ``minute hour day month day-of-week`` (five fields) or with a
    leading seconds field (six fields); ``off`` disables the job (None).

    Day-of-week must use names (``mon``, ``mon-fri``): APScheduler 3 numbers days from Monday
    = 0, unlike cron, so numbers would silently shift by a day.
    """
    from apscheduler.triggers.cron import CronTrigger  # only what schedules jobs pays for it

    text = expression.strip()
    if text.lower() in ("off", "disabled", "none", ""):
        return None
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"has {len(fields)} fields; a schedule has 5 (minute hour day month "
                         "day-of-week) or 6 (with seconds first)")
    second = fields[0] if len(fields) == 6 else "0"
    minute, hour, day, month, day_of_week = fields[-5:]
    if _WEEKDAY_NUMBER.search(day_of_week):
        raise ValueError("write day-of-week as names (mon, tue, ..., sun; mon-fri), not numbers")
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=day_of_week, timezone=timezone)


def _schedule(value: str) -> str:
    try:
        parse_schedule(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"is not a schedule: {exc}") from None
    return value


Whole = Annotated[int, BeforeValidator(_whole)]
Number = Annotated[float, BeforeValidator(_number)]
Flag = Annotated[bool, BeforeValidator(flag)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Schedule = Annotated[str, AfterValidator(_schedule)]


def setting(default: Any, doc: str, *, minimum: float | None = None,
            maximum: float | None = None, env: str | None = None, **extra: Any) -> Any:
    """A field with its documentation, allowed range and (when not the usual one) variable."""
    return Field(default, description=doc, ge=minimum, le=maximum,
                 json_schema_extra={"env": env, **extra})


# -- sections ---------------------------------------------------------------------------------

_REASONS = {
    "int_parsing": "is not a whole number", "int_type": "is not a whole number",
    "int_from_float": "is not a whole number", "float_parsing": "is not a number",
    "float_type": "is not a number", "finite_number": "is not a finite number",
    "bool_parsing": "is not true or false", "bool_type": "is not true or false",
    "string_type": "is not text", "missing": "is required", "extra_forbidden": "is no setting",
}


def _reason(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    if error["type"] == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if error["type"] == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if error["type"] == "value_error":
        return str(ctx["error"])
    return _REASONS.get(error["type"], error["msg"])


class Section(BaseModel):
    """A group of settings: a frozen value, validated when it is constructed."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built on first use
    env_prefix: ClassVar[str] = ENV_PREFIX

    def __init__(self, _from_env: Mapping[str, str] | None = None, **values: Any) -> None:
        """Validate ``values``; ``_from_env`` maps the fields read from the environment to
        their text, so that a problem names its variable."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(self._explain(error, _from_env or {})) from None

    @classmethod
    def _explain(cls, error: ValidationError, from_env: Mapping[str, str]) -> str:
        """The first problem, naming the variable it came from, else the field."""
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else None
        if name is None:  # a rule across fields: its message names them
            sources = ", ".join(f"{cls.env_name(n)}={raw!r}" for n, raw in from_env.items())
            return f"{sources}: {_reason(first)}" if sources else _reason(first)
        if name in from_env:
            return f"{cls.env_name(name)}={from_env[name]!r} {_reason(first)}"
        if name not in cls.model_fields:
            return f"setting {name} {_reason(first)}"
        return (f"setting {name} ({cls.env_name(name)}) {_reason(first)}, "
                f"got {first['input']!r}")

    @classmethod
    def env_name(cls, name: str) -> str:
        """The environment variable of setting ``name``."""
        extra = cls.model_fields[name].json_schema_extra
        declared = extra.get("env") if isinstance(extra, dict) else None
        return str(declared) if declared else cls.env_prefix + name.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Defaults, overridden by the section's variables, then by keyword ``overrides``.

        Raises `SettingsError` naming the variable when a value cannot be converted or is out
        of range (each variable is checked alone first, so the message names the culprit).
        """
        environ = os.environ if environ is None else environ
        found = {name: environ[cls.env_name(name)] for name in cls.model_fields
                 if environ.get(cls.env_name(name)) is not None}
        required = {name: raw for name, raw in found.items()
                    if cls.model_fields[name].is_required()}
        for name, raw in found.items():
            cls(_from_env={**required, name: raw}, **{**required, name: raw})
        return cls(_from_env={n: r for n, r in found.items() if n not in overrides},
                   **{**found, **overrides})

    @classmethod
    def documentation(cls) -> list[SettingDoc]:
        """One row per setting: (name, default, environment variable, documentation)."""
        return [SettingDoc(name, None if info.is_required() else info.default, cls.env_name(name),
                           info.description or "") for name, info in cls.model_fields.items()]
