"""OpenLineage events: parsing RunEvents into what Featreg records (pure, no database).

`parse_event` takes a decoded event and returns a `RunEvent` (run, job, the input datasets with
the columns their facets name, the outputs), None for a JobEvent or DatasetEvent, or raises
InvalidInput with the reason. `principal_for` is the principal rule. The mapping rules and the
storing service are in `registry.evidence.openlineage`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry.core.errors import InvalidInput, Problem
from registry.core.names import NAME_LENGTH, text_problem
from registry.core.timeparse import parse_time

__all__ = [
    "RUN_EVENT_TYPES",
    "DatasetRef",
    "Malformed",
    "RunEvent",
    "parse_event",
    "parse_run_event",
    "principal_for",
]

RUN_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
MAX_RUN_ID = 255


class Malformed(ValueError):
    """The reason an event cannot be taken."""


@dataclass(frozen=True)
class DatasetRef:
    namespace: str
    name: str
    fields: tuple[str, ...] = ()
    """Columns named by the schema or columnLineage facets (inputs only)."""
    aliases: tuple[str, ...] = ()
    """Names from the symlinks facet."""

    def source_candidates(self) -> list[str]:
        dotted = self.name.strip("/").replace("/", ".")
        return list(dict.fromkeys([self.name, dotted, *self.aliases]))


@dataclass(frozen=True)
class RunEvent:
    run_id: str
    event_type: str
    event_time: datetime
    job_namespace: str
    job_name: str
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    event_time_text: str = ""
    """eventTime as sent (full precision: a retry sends the same text)."""

    @property
    def key(self) -> str:
        """What identifies the event across client retries."""
        parts = (self.run_id, self.event_type, self.event_time_text or self.event_time.isoformat(),
                 self.job_namespace, self.job_name)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _text(obj: dict[str, Any], key: str, where: str, limit: int | None = None) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{where}{key} must be a non-empty string")
    if limit is not None and len(value) > limit:
        raise Malformed(f"{where}{key} is longer than {limit} characters")
    if problem := text_problem(value, f"{where}{key}"):
        raise Malformed(problem)
    return value


def _object(value: object, where: str, *, optional: bool = False) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{where} must be an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where} must be a list")
    return value


def _schema_fields(facets: dict[str, Any], where: str) -> list[str]:
    schema = _object(facets.get("schema"), f"{where}.facets.schema", optional=True)
    names = []
    for i, item in enumerate(_list(schema.get("fields"), f"{where}.facets.schema.fields")):
        names.append(_text(_object(item, f"{where}.facets.schema.fields[{i}]"), "name",
                           f"{where}.facets.schema.fields[{i}]."))
    return names


def _symlinks(facets: dict[str, Any], where: str) -> list[str]:
    links = _object(facets.get("symlinks"), f"{where}.facets.symlinks", optional=True)
    ids = _list(links.get("identifiers"), f"{where}.facets.symlinks.identifiers")
    return [_text(_object(x, f"{where}.facets.symlinks.identifiers[{i}]"), "name",
                  f"{where}.facets.symlinks.identifiers[{i}].") for i, x in enumerate(ids)]


def _column_lineage(facets: dict[str, Any], where: str) -> list[tuple[str, str, str]]:
    """(namespace, name, field) of every input field an output's columnLineage facet names."""
    facet = _object(facets.get("columnLineage"), f"{where}.facets.columnLineage", optional=True)
    where = f"{where}.facets.columnLineage"
    refs: list[Any] = []
    for out_field, spec in _object(facet.get("fields"), f"{where}.fields", optional=True).items():
        spec = _object(spec, f"{where}.fields.{out_field}")
        refs.extend((f"{where}.fields.{out_field}.inputFields", x)
                    for x in _list(spec.get("inputFields"), f"{where}.fields.{out_field}"))
    refs.extend((f"{where}.dataset", x) for x in _list(facet.get("dataset"), f"{where}.dataset"))
    found = []
    for at, ref in refs:
        ref = _object(ref, at)
        found.append((_text(ref, "namespace", f"{at}."), _text(ref, "name", f"{at}."),
                      _text(ref, "field", f"{at}.")))
    return found


def _datasets(obj: dict[str, Any], key: str) -> list[tuple[str, str, dict[str, Any], str]]:
    out = []
    for i, item in enumerate(_list(obj.get(key), key)):
        where = f"{key}[{i}]"
        item = _object(item, where)
        facets = _object(item.get("facets"), f"{where}.facets", optional=True)
        out.append((_text(item, "namespace", f"{where}."), _text(item, "name", f"{where}."),
                    facets, where))
    return out


def parse_run_event(obj: object) -> RunEvent | None:
    """A RunEvent, None for a JobEvent or DatasetEvent; raises Malformed with the reason."""
    if not isinstance(obj, dict):
        raise Malformed("an event must be a JSON object")
    if "run" not in obj and "eventType" not in obj and ("job" in obj or "dataset" in obj):
        return None  # a JobEvent or DatasetEvent: static lineage, no reads
    time_text = obj.get("eventTime")
    if not isinstance(time_text, str):
        raise Malformed("eventTime must be an ISO 8601 date-time string with a timezone")
    try:
        event_time = parse_time(time_text)
    except ValueError as exc:
        raise Malformed(f"eventTime: {exc}") from exc
    event_type = obj.get("eventType")
    if event_type is not None and event_type not in RUN_EVENT_TYPES:
        raise Malformed(f"eventType must be one of {', '.join(RUN_EVENT_TYPES)}")
    run = _object(obj.get("run"), "run")
    job = _object(obj.get("job"), "job")
    run_id = _text(run, "runId", "run.", MAX_RUN_ID)
    job_name = _text(job, "name", "job.", NAME_LENGTH)
    job_namespace = _text(job, "namespace", "job.")
    columns: dict[tuple[str, str], list[str]] = {}
    aliases: dict[tuple[str, str], list[str]] = {}
    for namespace, name, facets, where in _datasets(obj, "inputs"):
        columns.setdefault((namespace, name), []).extend(_schema_fields(facets, where))
        aliases.setdefault((namespace, name), []).extend(_symlinks(facets, where))
    outputs = []
    for namespace, name, facets, where in _datasets(obj, "outputs"):
        for ref_ns, ref_name, ref_field in _column_lineage(facets, where):
            columns.setdefault((ref_ns, ref_name), []).append(ref_field)
        outputs.append(DatasetRef(namespace, name, (), tuple(_symlinks(facets, where))))
    inputs = tuple(
        DatasetRef(ns, name, tuple(dict.fromkeys(fields)),
                   tuple(dict.fromkeys(aliases.get((ns, name), []))))
        for (ns, name), fields in columns.items()
    )
    return RunEvent(run_id, event_type or "", event_time, job_namespace, job_name, inputs,
                    tuple(dict.fromkeys(outputs)), time_text)


def parse_event(obj: object) -> RunEvent | None:
    """A RunEvent from decoded JSON; None for a JobEvent or DatasetEvent (nothing to record).
    Raises InvalidInput with the reason when the event is malformed."""
    try:
        return parse_run_event(obj)
    except Malformed as exc:
        raise InvalidInput([Problem(str(exc))]) from None


def principal_for(job_namespace: str, job_name: str, registered: Iterable[str]) -> str:
    """The principal of a job (see the module docstring)."""
    if job_name in set(registered):
        return job_name
    qualified = f"{job_namespace}/{job_name}"
    return qualified if len(qualified) <= NAME_LENGTH else job_name
