"""OpenLineage events: parsing what real producers send into what Featreg records (pure, no
database).

`parse_lineage_event` takes one decoded event of any spec version (1-0-x, 2-0-x) and returns a
`LineageEvent`, or raises `Malformed` naming the field. It is tolerant of everything producers
really send: unknown facets are ignored, facets of an unexpected shape are ignored, nulls and
empty inputs/outputs are nothing; only what Featreg cannot do without is refused (not an
object, no job, no runId on a RunEvent, a date-time that is not one, a name longer than
`MAX_NAME` characters). The mapping rules and the storing service are in
`registry.evidence.openlineage`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.core.errors import InvalidInput, Problem
from registry.core.names import text_problem
from registry.core.timeparse import parse_time

__all__ = [
    "KINDS",
    "MAX_NAME",
    "RUN_EVENT_TYPES",
    "DatasetRef",
    "FieldInfo",
    "JobRef",
    "LineageEvent",
    "Malformed",
    "StatRow",
    "event_key",
    "parse_event",
    "parse_lineage_event",
]

RUN_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
KINDS = ("RunEvent", "JobEvent", "DatasetEvent")
MAX_NAME = 1024
"""Most characters in a job's or dataset's namespace or name (dbt's own reach 124)."""
MAX_RUN_ID = 255
MAX_TEXT = 64 * 1024
"""Descriptions longer than this are cut (the facets are evidence, not the catalog)."""
_ZONE_SUFFIX = re.compile(r"\[[^\]]*\]$")  # Java's ZonedDateTime: ...+02:00[Europe/Paris]


class Malformed(ValueError):
    """The reason an event cannot be taken."""


@dataclass(frozen=True)
class JobRef:
    namespace: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class FieldInfo:
    """A schema field; a nested field's name is its dotted path (``address.city``)."""

    name: str
    type: str | None = None
    description: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"name": self.name}
        if self.type:
            out["type"] = self.type
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True, eq=False)
class StatRow:
    """Statistics an input (or output) facet reports: ``field`` None is the dataset's own."""

    field: str | None
    facet: str
    metrics: dict[str, Any]


@dataclass(frozen=True, eq=False)
class DatasetRef:
    namespace: str
    name: str
    columns: tuple[str, ...] = ()
    """Columns read: the schema's fields and what columnLineage names (inputs only)."""
    schema: tuple[FieldInfo, ...] | None = None
    """The schema facet's fields when this event sent one."""
    symlinks: tuple[JobRef, ...] = ()
    """Other identifiers of the dataset (the symlinks facet), as namespace and name."""
    description: str | None = None
    owners: tuple[str, ...] = ()
    stats: tuple[StatRow, ...] = ()

    @property
    def dotted(self) -> str:
        """The name as a dotted path (``/data/clicks`` → ``data.clicks``)."""
        return self.name.strip("/").replace("/", ".")

    def source_candidates(self) -> list[str]:
        """Source names the dataset may be known by: name, dotted path, symlink names."""
        names = [self.name, self.dotted]
        for link in self.symlinks:
            names += [link.name, link.name.strip("/").replace("/", ".")]
        return list(dict.fromkeys(names))


@dataclass(frozen=True, eq=False)
class LineageEvent:
    kind: str  # RunEvent | JobEvent | DatasetEvent
    key: str
    """SHA-256 of the event's content: a retry is the same, any difference is another event."""
    event_time: datetime | None
    event_type: str = ""
    run_id: str | None = None
    job: JobRef | None = None
    parent: JobRef | None = None
    parent_run_id: str | None = None
    root: JobRef | None = None
    job_description: str | None = None
    job_owners: tuple[str, ...] = ()
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


def event_key(obj: object) -> str:
    """The identity of an event: its content (keys sorted, so re-serialising is the same)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(obj: dict[str, Any], key: str, where: str, limit: int = MAX_NAME) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"{where}.{key} must be a non-empty string")
    if len(value) > limit:
        raise Malformed(f"{where}.{key} is longer than {limit:,} characters ({len(value):,})")
    if problem := text_problem(value, f"{where}.{key}"):
        raise Malformed(problem)
    return value


def _text(value: object) -> str | None:
    """Free text from a facet (a description), storable, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.replace("\x00", "")[:MAX_TEXT]
    return None if text_problem(value, "") else value


def _job_ref(value: object, where: str) -> JobRef | None:
    obj = _dict(value)
    if not obj.get("name") or not obj.get("namespace"):
        return None
    return JobRef(_name(obj, "namespace", where), _name(obj, "name", where))


def event_kind(obj: dict[str, Any]) -> str:
    """From the ``schemaURL`` (``…/RunEvent``, ``…#/$defs/JobEvent``), else from the shape."""
    url = obj.get("schemaURL")
    if isinstance(url, str):
        tail = re.split(r"[/#]", url.rstrip("/"))[-1]
        if tail in KINDS:
            return tail
    if "run" in obj:
        return "RunEvent"
    if "dataset" in obj and "job" not in obj:
        return "DatasetEvent"
    if "job" in obj and "eventType" not in obj:
        return "JobEvent"
    return "RunEvent"


def _event_time(obj: dict[str, Any], warnings: list[str]) -> datetime | None:
    text = obj.get("eventTime")
    if text is None:
        warnings.append("no eventTime: the time it was received is used")
        return None
    if not isinstance(text, str):
        raise Malformed("eventTime must be an ISO 8601 date-time string")
    text = _ZONE_SUFFIX.sub("", text.strip())
    try:
        moment = parse_time(text, assume_utc=True)
    except ValueError as exc:
        raise Malformed(f"eventTime: {exc}") from None
    if datetime.fromisoformat(text).tzinfo is None:
        warnings.append(f"eventTime {text!r} has no offset: read as UTC")
    return moment


def _event_type(obj: dict[str, Any], warnings: list[str]) -> str:
    value = obj.get("eventType")
    if value is None:
        return ""
    text = str(value).upper()
    if text not in RUN_EVENT_TYPES:
        warnings.append(f"eventType {str(value)[:32]!r} is not one of "
                        f"{', '.join(RUN_EVENT_TYPES)}: taken as OTHER")
        return "OTHER"
    return text


def _schema_fields(items: object, prefix: str = "", depth: int = 0) -> list[FieldInfo]:
    """Every field of a schema facet, nested struct fields by dotted path."""
    found: list[FieldInfo] = []
    for item in _items(items):
        item = _dict(item)
        name = item.get("name")
        if not isinstance(name, str) or not name or text_problem(name, ""):
            continue
        path = f"{prefix}{name}"
        if len(path) > MAX_NAME:
            continue
        kind = item.get("type")
        found.append(FieldInfo(path, str(kind)[:255] if kind is not None else None,
                               _text(item.get("description"))))
        if depth < 16:
            found.extend(_schema_fields(item.get("fields"), f"{path}.", depth + 1))
    return found


def _owners(facets: dict[str, Any]) -> tuple[str, ...]:
    names = [_text(_dict(o).get("name")) for o in _items(_dict(facets.get("ownership"))
                                                          .get("owners"))]
    return tuple(dict.fromkeys(n for n in names if n))


def _symlinks(facets: dict[str, Any]) -> tuple[JobRef, ...]:
    links = []
    for item in _items(_dict(facets.get("symlinks")).get("identifiers")):
        item = _dict(item)
        ns, name = item.get("namespace"), item.get("name")
        if isinstance(ns, str) and isinstance(name, str) and name and len(name) <= MAX_NAME \
                and len(ns) <= MAX_NAME and not text_problem(ns + name, ""):
            links.append(JobRef(ns, name))
    return tuple(dict.fromkeys(links))


def _stats(facets: dict[str, Any]) -> list[StatRow]:
    """inputStatistics / outputStatistics (dataset-level) and dataQualityMetrics (also per
    column: nullCount, distinctCount, min, max, ...)."""
    rows = []
    for facet in ("inputStatistics", "outputStatistics", "dataQualityMetrics"):
        body = facets.get(facet)
        if not isinstance(body, dict):
            continue
        own = {k: v for k, v in body.items() if not k.startswith("_")
               and k != "columnMetrics" and isinstance(v, int | float)}
        if own:
            rows.append(StatRow(None, facet, own))
        for column, metrics in _dict(body.get("columnMetrics")).items():
            kept = {k: v for k, v in _dict(metrics).items()
                    if isinstance(v, int | float | str) and not k.startswith("_")}
            if kept and isinstance(column, str) and len(column) <= MAX_NAME:
                rows.append(StatRow(column, facet, kept))
    return rows


def _column_lineage(facets: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(namespace, name, field) of every input field an output's columnLineage facet names."""
    facet = _dict(facets.get("columnLineage"))
    refs = [ref for spec in _dict(facet.get("fields")).values()
            for ref in _items(_dict(spec).get("inputFields"))]
    refs += _items(facet.get("dataset"))
    found = []
    for ref in refs:
        ref = _dict(ref)
        parts = (ref.get("namespace"), ref.get("name"), ref.get("field"))
        if all(isinstance(p, str) and p and len(p) <= MAX_NAME for p in parts) \
                and not text_problem("".join(parts), ""):  # type: ignore[arg-type]
            found.append(parts)
    return found  # type: ignore[return-value]


def _dataset(item: object, where: str, extra: str) -> tuple[DatasetRef, dict[str, Any]]:
    """A dataset and its facets merged with its input or output facets (``extra``)."""
    obj = _dict(item)
    if not isinstance(item, dict):
        raise Malformed(f"{where} must be an object")
    facets = {**_dict(obj.get(extra)), **_dict(obj.get("facets"))}
    schema_facet = facets.get("schema")
    schema = tuple(_schema_fields(_dict(schema_facet).get("fields"))) \
        if isinstance(schema_facet, dict) else None
    ref = DatasetRef(
        _name(obj, "namespace", where), _name(obj, "name", where),
        tuple(f.name for f in schema or ()), schema, _symlinks(facets),
        _text(_dict(facets.get("documentation")).get("description")), _owners(facets),
        tuple(_stats(facets)))
    return ref, facets


def _datasets(obj: dict[str, Any], key: str, extra: str
              ) -> list[tuple[DatasetRef, dict[str, Any]]]:
    return [_dataset(item, f"{key}[{i}]", extra) for i, item in enumerate(_items(obj.get(key)))]


def _with_columns(ref: DatasetRef, columns: list[str]) -> DatasetRef:
    return DatasetRef(ref.namespace, ref.name, tuple(dict.fromkeys([*ref.columns, *columns])),
                      ref.schema, ref.symlinks, ref.description, ref.owners, ref.stats)


def _lineage(obj: dict[str, Any]) -> tuple[tuple[DatasetRef, ...], tuple[DatasetRef, ...]]:
    """Inputs (with the columns columnLineage names for them; a dataset named there only is
    an input too) and outputs."""
    outputs = _datasets(obj, "outputs", "outputFacets")
    named: dict[tuple[str, str], list[str]] = {}
    for _ref, facets in outputs:
        for ns, name, column in _column_lineage(facets):
            named.setdefault((ns, name), []).append(column)
    inputs: dict[tuple[str, str], DatasetRef] = {}
    for ref, _facets in _datasets(obj, "inputs", "inputFacets"):
        key = (ref.namespace, ref.name)
        inputs[key] = _with_columns(inputs[key], list(ref.columns)) if key in inputs else ref
    for (ns, name), columns in named.items():
        inputs[(ns, name)] = _with_columns(inputs.get((ns, name)) or DatasetRef(ns, name),
                                           columns)
    return tuple(inputs.values()), tuple(ref for ref, _facets in outputs)


def _parent(run_facets: dict[str, Any]) -> tuple[JobRef | None, str | None, JobRef | None]:
    """The parent job and run, and the root job (2-0-x), from the ``parent`` run facet (or
    the older ``parentRun``)."""
    facet = _dict(run_facets.get("parent")) or _dict(run_facets.get("parentRun"))
    parent = _job_ref(facet.get("job"), "run.facets.parent.job")
    run_id = _dict(facet.get("run")).get("runId")
    root = _job_ref(_dict(facet.get("root")).get("job"), "run.facets.parent.root.job")
    if not isinstance(run_id, str) or not 0 < len(run_id) <= MAX_RUN_ID \
            or text_problem(run_id, ""):
        run_id = None
    return parent, run_id, root


def parse_lineage_event(obj: object) -> LineageEvent:
    """One decoded event of any kind; raises Malformed with the reason."""
    if not isinstance(obj, dict):
        raise Malformed("an event must be a JSON object")
    warnings: list[str] = []
    kind = event_kind(obj)
    key = event_key(obj)
    event_time = _event_time(obj, warnings)
    if kind == "DatasetEvent":
        ref, _facets = _dataset(obj.get("dataset"), "dataset", "facets")
        return LineageEvent(kind, key, event_time, outputs=(ref,), warnings=tuple(warnings))
    if not isinstance(obj.get("job"), dict):
        raise Malformed("job must be an object with namespace and name")
    job = JobRef(_name(obj["job"], "namespace", "job"), _name(obj["job"], "name", "job"))
    job_facets = _dict(obj["job"].get("facets"))
    description = _text(_dict(job_facets.get("documentation")).get("description"))
    inputs, outputs = _lineage(obj)
    if kind == "JobEvent":
        return LineageEvent(kind, key, event_time, job=job, job_description=description,
                            job_owners=_owners(job_facets), inputs=inputs, outputs=outputs,
                            warnings=tuple(warnings))
    run = obj.get("run")
    if not isinstance(run, dict):
        raise Malformed("run must be an object with a runId (a RunEvent)")
    run_id = _name(run, "runId", "run", MAX_RUN_ID)
    parent, parent_run_id, root = _parent(_dict(run.get("facets")))
    return LineageEvent(kind, key, event_time, _event_type(obj, warnings), run_id, job,
                        parent, parent_run_id, root, description, _owners(job_facets),
                        inputs, outputs, tuple(warnings))


def parse_event(obj: object) -> LineageEvent:
    """`parse_lineage_event`, raising InvalidInput (the error entry points map to 400)."""
    try:
        return parse_lineage_event(obj)
    except Malformed as exc:
        raise InvalidInput([Problem(str(exc))]) from None
