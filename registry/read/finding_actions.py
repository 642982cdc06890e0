"""What a person can do about a finding, ready to paste: the YAML that registers an observed
reader, the `featreg deprecate` command of a deprecation candidate, and where an undocumented
feature was declared."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog.service import find_object
from registry.core.batches import chunks
from registry.core.errors import NotFound
from registry.read.common import iso
from registry.store import models as m

DEPRECATION_KINDS = ("legacy", "bundled", "epsilon", "correlated")
SUNSET_DAYS = 90
KIND_HINTS = (("notebook", "notebook"), ("dashboard", "dashboard"), ("report", "dashboard"),
              ("service", "service"), ("api", "service"), ("model", "model"),
              ("ranker", "model"), ("airflow", "job"), ("job", "job"), ("etl", "job"),
              ("export", "job"))
CONSUMER_KINDS = "model service job dashboard notebook"


def guess_consumer_kind(name: str) -> str:
    """A consumer kind from words in the principal's name (a job when nothing says)."""
    lowered = name.lower()
    return next((kind for word, kind in KIND_HINTS if word in lowered), "job")


def register_reader_yaml(name: str, reads: Iterable[str], *, owner: str | None = None,
                         kind: str | None = None, not_in_catalog: int = 0) -> str:
    """The spec entry that registers an observed reader as a consumer declaring what it was
    seen reading (or reads suggested from elsewhere, such as OpenLineage datasets), for
    `featreg apply`. Names are quoted by the YAML emitter, so any name stays one value;
    `not_in_catalog` counts the names it read that are no catalog feature (left out: a
    consumer can only declare features)."""
    entry = {"name": name, "kind": kind or guess_consumer_kind(name),
             "owner": owner or "your-team", "stage": "development",
             "description": f"What {name} is and who runs it.",
             "features": sorted(set(reads))}
    body = yaml.safe_dump({"consumers": [entry]}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    left_out = (f"# {not_in_catalog} other name{'s' if not_in_catalog != 1 else ''} it read "
                f"{'are' if not_in_catalog != 1 else 'is'} not a catalog feature (left out).\n"
                if not_in_catalog else "")
    return (f"# Register this reader: set owner to your team and kind to one of: "
            f"{CONSUMER_KINDS};\n# then `featreg plan FILE` and `featreg apply FILE`.\n"
            f"{left_out}{body}")


def _catalog_features(session: Session, names: Iterable[str]) -> list[str]:
    wanted = sorted(set(names))
    known: set[str] = set()
    for chunk in chunks(wanted):
        known.update(session.scalars(select(m.Feature.name).where(m.Feature.name.in_(chunk))))
    return sorted(known)


def register_yaml_for(session: Session, name: str, reads: Iterable[str]) -> str:
    """`register_reader_yaml` for a principal seen reading `reads`, declaring those that are
    catalog features (the others are counted in a comment)."""
    read = set(reads)
    known = _catalog_features(session, read)
    return register_reader_yaml(name, known, not_in_catalog=len(read) - len(known))


def declare_yaml_for(session: Session, name: str, undeclared: Iterable[str]) -> str | None:
    """The spec entry of a registered consumer with the catalog features it reads without
    declaring them added to its `features` (a consumer is declared whole: the entry keeps its
    other fields as stored). None when it is no consumer or there is nothing to add."""
    try:
        kind, fields = find_object(session, name)
    except NotFound:
        return None
    adds = [f for f in _catalog_features(session, undeclared) if f not in fields["features"]]
    if kind != "consumers" or not adds:
        return None
    entry = {"name": name, **{k: v for k, v in fields.items() if v not in (None, "", [])},
             "features": sorted({*fields["features"], *adds})}
    body = yaml.safe_dump({"consumers": [entry]}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return (f"# Declare what {name} reads: its entry with {len(adds)} feature"
            f"{'s' if len(adds) != 1 else ''} added ({', '.join(adds[:5])}"
            f"{', …' if len(adds) > 5 else ''});\n# replace its entry in your spec file, then "
            f"`featreg plan FILE` and `featreg apply FILE`.\n{body}")


def finding_actions(session: Session, finding: Mapping[str, Any], *, today: date
                    ) -> dict[str, Any]:
    """The actions of a finding's page: the YAML that registers an unregistered reader, the
    deprecation of a candidate feature, where an undocumented feature was declared."""
    subject, evidence = finding["subject"], finding.get("evidence") or {}
    actions: dict[str, Any] = {"register_yaml": None, "declare_yaml": None, "deprecate": None,
                               "declaration": None}
    if finding["kind"] == "undeclared_consumer":
        reads = [r.get("feature") for r in evidence.get("reads") or [] if isinstance(r, dict)]
        names = [r for r in reads if isinstance(r, str)]
        if evidence.get("registered") is False:
            actions["register_yaml"] = register_yaml_for(session, subject["name"], names)
        else:
            actions["declare_yaml"] = declare_yaml_for(session, subject["name"], names)
    if subject["type"] == "feature":
        status = session.scalar(select(m.Feature.status)
                                .where(m.Feature.name == subject["name"]))
        if status is not None:
            actions["deprecate"] = deprecation_suggestion(subject["name"], status, [finding],
                                                          today=today)
            if finding["kind"] == "undocumented":
                actions["declaration"] = declaration_pointer(session, subject["name"])
    return actions


def _replacement(findings: Sequence[Mapping[str, Any]]) -> str | None:
    """The feature that carries what a deprecation candidate carried, when a finding says."""
    for finding in findings:
        evidence = finding.get("evidence") or {}
        if finding["kind"] == "correlated" and evidence.get("keeper"):
            return str(evidence["keeper"])
        newer = evidence.get("superseded_by") or []
        if finding["kind"] == "legacy" and newer and isinstance(newer[0], Mapping):
            return str(newer[0].get("feature")) if newer[0].get("feature") else None
    return None


def deprecation_suggestion(name: str, status: str, findings: Sequence[Mapping[str, Any]], *,
                           today: date) -> dict[str, Any] | None:
    """The `featreg deprecate` command (and the same values for a form) for an active feature
    with an open legacy, bundled, epsilon or correlated finding about it; None otherwise."""
    reasons = [f for f in findings if f["kind"] in DEPRECATION_KINDS and not f.get("member")
               and f["subject"]["name"] == name and f["status"] != "resolved"]
    if status != "active" or not reasons:
        return None
    sunset = (today + timedelta(days=SUNSET_DAYS)).isoformat()
    replacement = _replacement(reasons)
    kinds = sorted({f["kind"] for f in reasons})
    reason = f"{', '.join(kinds)} finding{'s' if len(reasons) > 1 else ''} " + \
        ", ".join(f"#{f['id']}" for f in reasons)
    words = ["featreg", "deprecate", name, "--sunset", sunset]
    if replacement:
        words += ["--replacement", replacement]
    words += ["--reason", reason]
    return {"command": shlex.join(words), "sunset": sunset, "replacement": replacement,
            "reason": reason, "kinds": kinds,
            "api": f"/api/v1/features/{quote(name, safe='')}/deprecate"}


def declaration_pointer(session: Session, name: str) -> dict[str, Any]:
    """Where a feature was declared, as far as the catalog knows. The catalog keeps the change
    set that first registered it (an apply's label is the paths it was given), not the file
    and line of its YAML entry, so the stored declaration is pointed to through the API."""
    row = session.execute(
        select(m.ChangeSet.id, m.ChangeSet.kind, m.ChangeSet.label, m.ChangeSet.created_at,
               m.ChangeSet.actor)
        .join(m.Feature, m.Feature.changeset_id == m.ChangeSet.id)
        .where(m.Feature.name == name)).first()
    changeset = None
    if row is not None:
        changeset = {"id": row[0], "kind": row[1], "label": row[2] or None, "at": iso(row[3]),
                     "actor": row[4]}
    return {"file": None, "line": None, "changeset": changeset,
            "api": f"/api/v1/catalog/objects/{quote(name, safe='')}",
            "put": f"/api/v1/features/{quote(name, safe='')}"}
