"""The whole catalog as YAML that `featreg apply` reads back to the same catalog.

`export_documents` returns file name → YAML text: ``teams.yaml`` with every team, and one
file per team with the sources, features and consumers it owns (so a repository can give each
team its file). Fields equal to their defaults are left out; everything else is written, so
applying the export to an empty database (SQLite or PostgreSQL) and planning it again against
the original shows no change. It is also the way to move a catalog between databases.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import yaml
from sqlalchemy.orm import Session

from registry.catalog.state import Fields, load_state

__all__ = ["export_documents", "export_spec"]

OBJECT_KINDS = ("sources", "features", "consumers")
DEFAULTS: dict[str, Any] = {"description": "", "status": "active", "stage": "development"}


def _entry(name: str, fields: Fields) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    for key, value in fields.items():
        if value is None or value == [] or DEFAULTS.get(key, object()) == value:
            continue
        entry[key] = value
    return entry


def export_spec(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The catalog as one spec mapping (teams, sources, features, consumers), sorted by name."""
    state = load_state(session)
    spec: dict[str, list[dict[str, Any]]] = {
        "teams": [_entry(n, f) for n, f in sorted(state.teams.items())]}
    for kind in OBJECT_KINDS:
        spec[kind] = [_entry(n, f) for n, f in sorted(state.of(kind).items())]
    return spec


def _file_name(team: str, taken: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", team).strip("._") or "team"
    name, n = f"{stem}.yaml", 1
    while name in taken or name == "teams.yaml":
        n += 1
        name = f"{stem}-{n}.yaml"
    taken.add(name)
    return name


SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter when PyYAML has it (3x faster on large specs, the same text)."""


def dump_yaml(document: dict[str, Any]) -> str:
    """A spec document as YAML text, in the order given."""
    text: str = yaml.dump(document, Dumper=SAFE_DUMPER, sort_keys=False, allow_unicode=True,
                          width=100)
    return text


def export_documents(session: Session) -> dict[str, str]:
    """File name → YAML: ``teams.yaml`` and one file per team that owns anything."""
    spec = export_spec(session)
    by_team: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for kind in OBJECT_KINDS:
        for entry in spec[kind]:
            by_team[entry["owner"]][kind].append(entry)
    files = {"teams.yaml": dump_yaml({"teams": spec["teams"]})}
    taken: set[str] = set()
    for team in sorted(by_team):
        files[_file_name(team, taken)] = dump_yaml(
            {kind: by_team[team][kind] for kind in OBJECT_KINDS if by_team[team][kind]})
    return files
