"""The declarative spec: parse YAML files (with line numbers) and validate every entry.

The SDK builds its entries through the same `validate_entry` function, so a feature registered
from Python is checked exactly like one applied from a file.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from registry.core.durations import InvalidDuration, parse_duration
from registry.core.errors import InvalidInput, Problem
from registry.core.names import NAME_LENGTH

NAME_PATTERN = rf"^[A-Za-z][A-Za-z0-9_.\-]{{0,{NAME_LENGTH - 1}}}$"
NAME_RE = re.compile(NAME_PATTERN)
MAX_DESCRIPTION_CHARS = 2 * 1024 * 1024
KINDS = ("teams", "sources", "features", "consumers")
KIND_SINGULAR = {
    "teams": "team", "sources": "source", "features": "feature", "consumers": "consumer",
}

SourceKind = Literal["table", "stream", "file", "api", "model_output"]
DType = Literal["int", "float", "bool", "string", "category", "timestamp", "vector"]
ConsumerKind = Literal["model", "service", "job", "dashboard", "notebook"]
Status = Literal["active", "deprecated", "retired"]
Readiness = Literal["A", "B", "C"]
Stage = Literal["development", "staging", "production"]
READINESS_LEVELS = ("C", "B", "A")
"""Data readiness levels, lowest first (unset: not assessed)."""
STAGES = ("development", "staging", "production")


def _check_name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid name {value!r}: use a letter, then up to {NAME_LENGTH - 1} letters, digits, "
            "'_', '.' or '-'"
        )
    return value


_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")


def _check_names(values: list[str]) -> list[str]:
    for v in values:
        _check_name(v)
    if len(set(values)) != len(values):
        dupes = sorted({v for v in values if values.count(v) > 1})
        raise ValueError(f"listed more than once: {', '.join(dupes)}")
    return values


def _check_description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise ValueError(
            f"description has {len(value):,} characters; the limit is {MAX_DESCRIPTION_CHARS:,}"
        )
    return value


def _no_nul(value: Any, where: str = "") -> None:
    if isinstance(value, str):  # most values: done without the checks below
        if "\x00" in value:
            raise ValueError(f"{where or 'a value'} contains a NUL character (\\x00)")
        return
    if isinstance(value, list):
        for item in value:
            _no_nul(item, where)
    if isinstance(value, Mapping):
        for item in value.values():
            _no_nul(item, where)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    name: str

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @model_validator(mode="before")
    @classmethod
    def _text_is_storable(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key, value in data.items():
                kind = value.__class__
                if kind is list:  # most lists hold only plain text: checked here, no calls
                    for item in value:
                        if item.__class__ is not str or "\x00" in item:
                            _no_nul(item, f"field {key!r}")
                elif kind is not str or "\x00" in value:  # plain text: nothing to do
                    _no_nul(value, f"field {key!r}")
        return data


class TeamSpec(_Entry):
    contact: str | None = Field(default=None, max_length=320)
    description: str = ""

    _d = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", v):
            raise ValueError(f"contact {v!r} is not an e-mail address")
        return v


class OpenLineageAlias(BaseModel):
    """An OpenLineage dataset (namespace and name, as producers send them) that is the source."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    namespace: str = Field(min_length=1, max_length=1024)
    name: str = Field(min_length=1, max_length=1024)


class SourceSpec(_Entry):
    kind: SourceKind
    owner: str
    description: str = ""
    produced_by: str | None = None
    freshness: str | None = Field(default=None, max_length=64)
    readiness: Readiness | None = None
    openlineage: list[OpenLineageAlias] = Field(default_factory=list)

    _d = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))

    @field_validator("openlineage")
    @classmethod
    def _aliases(cls, v: list[OpenLineageAlias]) -> list[OpenLineageAlias]:
        seen = [(a.namespace, a.name) for a in v]
        dupes = sorted({f"{ns}/{n}" for ns, n in seen if seen.count((ns, n)) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return v

    def aliases(self) -> list[dict[str, str]] | None:
        """The stored form of ``openlineage``: sorted, None when there are none."""
        return sorted(({"namespace": a.namespace, "name": a.name} for a in self.openlineage),
                      key=lambda a: (a["namespace"], a["name"])) or None

    @field_validator("freshness")
    @classmethod
    def _freshness(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            parse_duration(v)
        except InvalidDuration as exc:
            raise ValueError(str(exc)) from None
        return v.strip()


ExpectValue = bool | int | float | str


class ExpectSpec(BaseModel):
    """What a feature's values must satisfy (checked against each snapshot)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    min: float | None = None
    max: float | None = None
    max_null_fraction: float | None = Field(default=None, ge=0, le=1)
    values: list[ExpectValue] | None = Field(default=None, min_length=1)

    @field_validator("min", "max")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("values")
    @classmethod
    def _values(cls, v: list[ExpectValue] | None) -> list[ExpectValue] | None:
        if v is not None and len({repr(x) for x in v}) != len(v):
            raise ValueError("values are listed more than once")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> ExpectSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        if all(v is None for v in (self.min, self.max, self.max_null_fraction, self.values)):
            raise ValueError("an expectation needs min, max, max_null_fraction or values")
        return self

    def as_fields(self) -> dict[str, Any]:
        """The stored form: only the keys that are set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class FeatureSpec(_Entry):
    owner: str
    dtype: DType
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    bundle: str | None = Field(default=None, min_length=1, max_length=NAME_LENGTH)
    tags: list[str] = Field(default_factory=list)
    created: datetime | None = None
    status: Status | None = None
    sunset: date | None = None
    replacement: str | None = None
    reason: str | None = None
    cost: float | None = Field(default=None, allow_inf_nan=False)
    expect: ExpectSpec | None = None

    _d = field_validator("description", "reason")(
        classmethod(lambda cls, v: v if v is None else _check_description(v)))
    _refs = field_validator("sources", "depends_on")(classmethod(lambda cls, v: _check_names(v)))

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not _TAG_RE.fullmatch(tag):
                raise ValueError(f"invalid tag {tag!r}: letters, digits, '_', '.', ':', '-'")
        return sorted(set(v))

    @field_validator("created", mode="before")
    @classmethod
    def _created(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, time(), tzinfo=UTC)
        return v

    @field_validator("created")
    @classmethod
    def _created_tz(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v.astimezone(UTC) if v is not None else None

    @model_validator(mode="after")
    def _deprecation(self) -> FeatureSpec:
        if self.status == "deprecated" and self.sunset is None:
            raise ValueError("a deprecated feature needs a `sunset` date")
        if self.status in (None, "active") and (self.sunset or self.replacement):
            raise ValueError("`sunset` and `replacement` need `status: deprecated`")
        if self.name in self.depends_on:
            raise ValueError(f"depends_on cycle: {self.name} -> {self.name}")
        return self


class ConsumerSpec(_Entry):
    kind: ConsumerKind
    owner: str
    description: str = ""
    version: str | None = Field(default=None, max_length=64)
    features: list[str] = Field(default_factory=list)
    produces: list[str] = Field(default_factory=list)
    stage: Stage = "development"

    _d = field_validator("description")(classmethod(lambda cls, v: _check_description(v)))
    _refs = field_validator("features", "produces")(classmethod(lambda cls, v: _check_names(v)))


NESTED_MODELS: dict[str, type[BaseModel]] = {"expect": ExpectSpec,
                                              "openlineage": OpenLineageAlias}
"""Fields whose value is itself a mapping with its own fields (for unknown-field messages)."""

SPEC_MODELS: dict[str, type[_Entry]] = {
    "teams": TeamSpec,
    "sources": SourceSpec,
    "features": FeatureSpec,
    "consumers": ConsumerSpec,
}


@dataclass(frozen=True)
class Located:
    """A validated entry and where it was declared."""

    entry: Any
    file: str | None = None
    line: int | None = None
    field_lines: Mapping[str, int] = field(default_factory=dict)

    def location(self) -> tuple[int | None, Mapping[str, int]]:
        """The entry's line and its fields' lines."""
        return self.line, self.field_lines

    def problem(self, message: str, field_name: str | None = None) -> Problem:
        line, field_lines = self.location()
        line = field_lines.get(field_name, line) if field_name else line
        where_field = None if self.file else field_name
        return Problem(message, file=self.file, line=line, field=where_field)


@dataclass(frozen=True)
class _FastLocated(Located):
    """An entry of a file read by the fast reader, which knows no lines: they are read from
    the file (with the line-tracking reader) only when a problem has to name them."""

    lines: _FileLines | None = None
    position: tuple[str, int] = ("", 0)

    def location(self) -> tuple[int | None, Mapping[str, int]]:
        return self.lines.of(*self.position) if self.lines else (None, {})


class _FileLines:
    """The lines of a file's entries, read once on first need."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.document: Any = None

    def of(self, kind: str, index: int) -> tuple[int | None, Mapping[str, int]]:
        try:
            if self.document is None:
                self.document = _load_yaml(self.text)[0]
            item = self.document[kind][index]
            return item.line, item.key_lines
        except (yaml.YAMLError, LookupError, TypeError, AttributeError):  # a text only the
            return None, {}  # fast reader reads: the problem is still reported, without line


@dataclass
class Spec:
    """Everything declared in a set of files (or one SDK batch), by kind and name."""

    teams: dict[str, Located] = field(default_factory=dict)
    sources: dict[str, Located] = field(default_factory=dict)
    features: dict[str, Located] = field(default_factory=dict)
    consumers: dict[str, Located] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    """Problems found while parsing, kept so references can be checked in the same pass."""
    invalid: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})
    """Names of entries that failed validation (not to be reported again as unknown)."""
    complete: bool = True
    """False when a whole document could not be read: references cannot be checked then."""

    def of(self, kind: str) -> dict[str, Located]:
        return getattr(self, kind)  # type: ignore[no-any-return]

    def is_empty(self) -> bool:
        return not any(self.of(k) for k in KINDS)


class _LineMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """libyaml's parser when available (5x faster), our constructors for line numbers.

    Aliases (``*name``, and merges ``<<: *name``) are refused before any is expanded: a few
    hundred bytes of nested aliases expand to billions of values (the "billion laughs").
    Duplicate keys are all collected (``duplicates``) rather than stopping at the first.
    """

    duplicates: list[tuple[str, int]]

    def construct_document(self, node: yaml.Node) -> Any:
        """Build the document, refusing aliases as if `_refuse_aliases` had run first: the
        build itself notices a node reached twice (stopping before any expansion), and then,
        or when the build fails otherwise, or when PyYAML's constructors built part of it,
        `_refuse_aliases` reports the alias it would have reported."""
        self.duplicates = []
        self._root = node
        self._seen: set[int] = set()
        self._unseen_parts = False
        try:
            data = self.build(node)
        except Exception:
            _refuse_aliases(node)
            raise
        if self._unseen_parts:
            _refuse_aliases(node)
        self.constructed_objects: dict[Any, Any] = {}
        self.recursive_objects: dict[Any, Any] = {}
        self.deep_construct = False
        return data

    def build(self, node: yaml.Node) -> Any:
        """What `construct_object(node, deep=True)` builds, without its bookkeeping for the
        nodes of a spec (plain text, mappings, lists): a third of the time of reading a large
        catalog. Any other node (numbers, dates, explicit tags) goes to PyYAML's constructors."""
        seen = self._seen
        if id(node) in seen:  # an alias: refused (found again from the root, as before)
            _refuse_aliases(self._root)
        seen.add(id(node))
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR_TAG:
                return node.value
        elif cls is yaml.MappingNode and node.tag == _MAP_TAG:
            return _construct_mapping(self, node)  # type: ignore[arg-type]
        elif cls is yaml.SequenceNode and node.tag == _SEQ_TAG:
            build = self.build
            return [build(item) for item in node.value]
        else:
            self._unseen_parts = True  # its nodes are built by PyYAML, not seen here
        return self.construct_object(node, deep=True)

    # libyaml composes the nodes but asks these Python methods for each node's tag. Specs add
    # no path resolvers, so the two walks along the path are no-ops, and the implicit
    # resolvers (null, bool, int, float, timestamp...) are looked up by first character.

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], _IMPLICIT_ANY):
                    if regexp.match(value):
                        return tag  # type: ignore[no-any-return]
            return _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


_STR_TAG = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
_MAP_TAG = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
_SEQ_TAG = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
_FLATTENED_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})
"""Keys that make PyYAML's `flatten_mapping` change a mapping (merges, ``=``)."""
_IMPLICIT_ANY = list(_LineLoader.yaml_implicit_resolvers.get(None, []))
_IMPLICIT = {first: [*resolvers, *_IMPLICIT_ANY]
             for first, resolvers in _LineLoader.yaml_implicit_resolvers.items()
             if first is not None}
"""The implicit resolvers PyYAML tries for a plain scalar, by its first character."""


def _refuse_aliases(root: yaml.Node) -> None:
    """Raise if any node is reached twice (what an alias is once composed); iterative, so
    neither depth nor the would-be expansion costs more than one pass over the text's nodes."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            _alias_error(node)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.append(key_node)
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _alias_error(node: yaml.Node) -> NoReturn:
    raise yaml.constructor.ConstructorError(
        None, None, "YAML anchors and aliases (&name, *name, <<: *name) are not "
        "allowed in specs: write the values out", node.start_mark)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineMap:
    if any(key_node.tag in _FLATTENED_KEY_TAGS for key_node, _ in node.value):
        _refuse_aliases(loader._root)  # before a merge rearranges the nodes
        loader.flatten_mapping(node)
    result = _LineMap()
    result.line = node.start_mark.line + 1
    key_lines: dict[str, int] = {}
    result.key_lines = key_lines
    build = loader.build
    for key_node, value_node in node.value:
        key = build(key_node)
        try:
            hash(key)
        except TypeError:  # YAML allows them (``? [a]``, ``? !!set {a}``); a spec never does
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be text, not a list, set or mapping",
                key_node.start_mark) from None
        if key in result:
            loader.duplicates.append((f"duplicate key {key!r}", key_node.start_mark.line + 1))
            loader._unseen_parts = True  # its value is not built: not seen here
            continue
        result[key] = build(value_node)
        key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    """Dates YAML cannot build (2025-13-01) stay text, so validation reports them by field."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


FAST_READ_MIN_CHARS = 128 * 1024
"""Specs this large are first read with the fast reader: below it, loading the reader costs
more than it saves."""
_FAST_DECLINED = re.compile(
    r"(?:^|[\s\[{,:])[&*!]"  # anchors, aliases, tags (and, conservatively, "a & b")
    r"|^%"  # directives
    r"|(?:^|[\s\[{,:])\?"  # an explicit key, or "?" alone (read differently in flow)
    r"|\r(?!\n)"  # a line break of CR alone
    r"|(?:^|[\s\[{,]):"  # ":" starting a token (a key's ":" on its own line, ":x" in flow)
    r"|^ {100}"  # deep indentation: bounds the nesting the fast reader recurses into
    r"|(?:[-?] +){32}",  # deep nesting on one line ("- - - - x")
    re.MULTILINE)
"""Text the fast reader is not asked to read: where its YAML 1.2 and PyYAML's 1.1 could
disagree, or where its recursion is not bounded (libyaml stops at 1,000 levels)."""
_FAST_DECLINED_IF = ("&", "*", "!", "\n%", " " * 100, "- -", "-  ", "?", "\r", " :", "\n:",
                     "{:", "[:", ",:")
"""Substrings without which `_FAST_DECLINED` cannot match (after a line break added in front),
found at memchr speed: the regex itself takes 0.1 s on a 10,000-feature catalog."""
_FAST_NEVER = ("\t", "|", ">", "\\u", "\\U", "---", "...")
"""Text the fast reader is never asked to read, found at memchr speed: tabs (which libyaml
refuses in places yaml-rs accepts), block scalars and the characters that start them (yaml-rs
reads an empty one at the end of a file as a line break, and accepts them inside flow
collections), \\u escapes (yaml-rs joins escaped surrogate pairs that libyaml refuses) and
document markers."""
_ODD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
"""Control characters, and the line breaks and byte-order mark YAML 1.1 reads differently."""


def _read_fast(spec: Spec, fname: str, text: str) -> bool:
    """Add a file's entries to the spec through the fast reader (yaml-rs, 10x libyaml's speed
    with our line tracking) when it reads the file as the line-tracking reader would, as far
    as the checks below and the tests (review fuzzing included) can tell, and every entry is
    valid; False, with nothing added, otherwise (the file is then read
    again with lines, which reports its problems).

    The two readers agree where every value is text (that no YAML 1.1 rule would read as
    anything else), null, true/false, a list or a mapping with text keys: `_plain_values`
    checks that on what the fast reader returned. Numbers, dates, tags and anchors go to the
    line-tracking reader. Lines are read only if a problem found later has to name them."""
    document = _fast_document(text)
    if document is None:
        return False
    lines = _FileLines(text)
    staged: dict[str, dict[str, Located]] = {kind: {} for kind in KINDS}
    for kind, entries in document.items():
        if kind not in KINDS or not isinstance(entries, list | None):
            return False
        model, names, taken = SPEC_MODELS[kind], staged[kind], spec.of(kind)
        for index, item in enumerate(entries or ()):
            if not isinstance(item, dict):
                return False
            try:
                entry = model.model_validate(item)
            except ValidationError:
                return False
            if entry.name in names or entry.name in taken:
                return False
            names[entry.name] = _FastLocated(entry, fname, lines=lines, position=(kind, index))
    for kind in KINDS:
        spec.of(kind).update(staged[kind])
    return True


def _fast_document(text: str) -> dict[str, Any] | None:
    """The document as the fast reader reads it, if it reads it as PyYAML would; else None."""
    if any(part in text for part in _FAST_NEVER) or _ODD_CHARACTERS.search(text) or (
            (text.startswith(("%", "?", ":")) or any(part in text for part in _FAST_DECLINED_IF))
            and _FAST_DECLINED.search(text)):
        return None
    try:
        import yaml_rs  # without it, the line-tracking reader reads every file
    except ImportError:
        return None
    try:
        document = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - the line-tracking reader says what is wrong, and where
        return None
    if type(document) is not dict or not _plain_values(document):
        return None
    return document


def _plain_values(document: dict[str, Any]) -> bool:
    """True when every value is one both YAML readers build alike (see `_read_fast`)."""
    texts: list[str] = []
    add = texts.append
    stack: list[Any] = [document]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    return False
                add(key)
                if type(item) is str:
                    add(item)
                else:
                    stack.append(item)
        elif kind is list:
            for item in value:
                if type(item) is str:
                    add(item)
                else:
                    stack.append(item)
        elif kind is str:
            add(value)
        elif value is not None and kind is not bool:
            return False
    return not any((text[:1] in _IMPLICIT and _implicit(text)) or text.isspace()
                   for text in set(texts))


def _implicit(text: str) -> bool:
    """Would PyYAML read this text, written plain, as something else (a number, a date,
    yes/no/on/off, null, a merge)? The fast reader cannot say whether it was quoted."""
    return any(regexp.match(text) for _, regexp in _IMPLICIT.get(text[:1], _IMPLICIT_ANY))


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """YAML files, folders of them (recursively, sorted); problems for missing paths."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
            if not found:
                problems.append(Problem("folder holds no .yaml or .yml files", file=str(path)))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem("no such file or folder", file=str(path)))
    if problems:
        raise InvalidInput(problems)
    return files


def validate_entry(
    kind: str,
    data: Mapping[str, Any],
    *,
    file: str | None = None,
    line: int | None = None,
    key_lines: Mapping[str, int] | None = None,
) -> tuple[Located | None, list[Problem]]:
    """Validate one entry of a kind; the one validation path for files and the SDK."""
    key_lines = key_lines or {}
    model = SPEC_MODELS[kind]
    try:
        entry = model.model_validate(dict(data))
    except ValidationError as exc:
        problems = []
        name = data.get("name") if isinstance(data.get("name"), str) else None
        label = f"{KIND_SINGULAR[kind]} {name!r}" if name else KIND_SINGULAR[kind]
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            fld = loc[0] if loc else None
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                fields_of = NESTED_MODELS.get(loc[0], model) if len(loc) > 1 else model
                allowed = ", ".join(fields_of.model_fields)
                msg = f"unknown field {'.'.join(loc)!r} (allowed: {allowed})"
            elif err["type"] == "missing":
                msg = f"missing required field {fld!r}"
            elif fld:
                msg = f"field {'.'.join(loc)!r}: {msg}"
            at = key_lines.get(fld, line) if fld else line
            problems.append(
                Problem(f"{label}: {msg}", file=file, line=at)
            )
        return None, problems
    return Located(entry, file, line, dict(key_lines)), []


def parse_documents(documents: Iterable[tuple[str, str]], *, defer: bool = False) -> Spec:
    """Parse (file name, YAML text) pairs into a Spec; every problem is reported at once.

    With ``defer`` the problems are kept on the spec (``spec.problems``) instead of raised, so
    `make_plan` can report them together with reference problems in one pass.
    """
    # Parsing allocates hundreds of thousands of small containers and no cycles: the cyclic
    # collector would only rescan the heap again and again (2x the parse time on big catalogs).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse_documents(documents, defer=defer)
    finally:
        if enabled:
            gc.enable()


def _load_yaml(text: str) -> tuple[Any, list[tuple[str, int]]]:
    """One YAML document, and every duplicate key in it (message, line)."""
    loader = _LineLoader(text)
    try:
        return loader.get_single_data(), getattr(loader, "duplicates", [])
    except RecursionError:  # values nested deeper than the interpreter's stack (libyaml
        # refuses them itself only past 1,000 levels)
        raise yaml.constructor.ConstructorError(
            None, None, "values are nested too deeply", None) from None
    finally:
        loader.dispose()


def _parse_documents(documents: Iterable[tuple[str, str]], *, defer: bool) -> Spec:
    spec = Spec()
    problems = spec.problems
    documents = list(documents)
    fast = sum(len(text) for _, text in documents) >= FAST_READ_MIN_CHARS
    for fname, text in documents:
        if fast and _read_fast(spec, fname, text):
            continue
        try:
            doc, duplicates = _load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            reason = getattr(exc, "problem", None) or str(exc)
            line = mark.line + 1 if mark else None
            problems.append(Problem(f"malformed YAML: {reason}", file=fname, line=line))
            spec.complete = False
            continue
        if duplicates:
            problems.extend(Problem(f"malformed YAML: {message}", file=fname, line=line)
                            for message, line in duplicates)
            spec.complete = False
            continue
        if doc is None:
            continue
        if not isinstance(doc, _LineMap):
            problems.append(Problem("top level must be a mapping of teams/sources/features/"
                                    "consumers", file=fname, line=1))
            spec.complete = False
            continue
        for key, value in doc.items():
            kline = doc.key_lines.get(str(key))
            if key not in KINDS:
                problems.append(Problem(f"unknown top-level key {key!r} (allowed: "
                                        f"{', '.join(KINDS)})", file=fname, line=kline))
                continue
            if value is None:
                continue
            if not isinstance(value, list):
                problems.append(Problem(f"{key!r} must be a list", file=fname, line=kline))
                continue
            for item in value:
                if not isinstance(item, _LineMap):
                    problems.append(Problem(f"each entry of {key!r} must be a mapping",
                                            file=fname, line=kline))
                    continue
                located, errs = validate_entry(key, item, file=fname, line=item.line,
                                               key_lines=item.key_lines)
                problems.extend(errs)
                if located is None:
                    if isinstance(item.get("name"), str):
                        spec.invalid[key].add(item["name"])
                    continue
                name = located.entry.name
                previous = spec.of(key).get(name)
                if previous is not None:
                    problems.append(located.problem(
                        f"duplicate {KIND_SINGULAR[key]} {name!r}, first declared at "
                        f"{previous.file}:{previous.location()[0]}"))
                    continue
                spec.of(key)[name] = located
    if problems and not defer:
        raise InvalidInput(problems)
    return spec


def load_spec(paths: Iterable[str | Path], *, defer: bool = False) -> Spec:
    """Read and validate YAML files or folders of them."""
    documents = []
    problems = []
    for path in expand_paths(paths):
        try:
            documents.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(f"cannot read: {exc}", file=str(path)))
    # the files that could be read are still checked, so every file's problems show at once
    spec = parse_documents(documents, defer=True)
    if problems:
        spec.problems[:0] = problems
        spec.complete = False
    if spec.problems and not defer:
        raise InvalidInput(spec.problems)
    return spec
