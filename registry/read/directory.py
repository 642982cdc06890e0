"""Search over every kind of object: features (through the catalog's search index) and the
names of sources, consumers, teams and observed principals that are not registered consumers
(unregistered readers), grouped by kind.

The non-feature names are few next to the features (hundreds to thousands), so they are held
in a `NameDirectory` and matched with the catalog's rule: every term of the query occurs in
the name or the description (case-insensitive), exact names first, then names starting with
the query, then names containing it, then the rest, each by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.catalog.search import FeatureSearchIndex, search_terms
from registry.read.browse import PrincipalRow
from registry.read.common import first_line
from registry.store import models as m

KINDS = ("feature", "source", "consumer", "team", "principal")
KIND_LABELS = {"feature": "Features", "source": "Sources", "consumer": "Consumers",
               "team": "Teams", "principal": "Unregistered readers"}
PER_KIND = 10


@dataclass(frozen=True, slots=True)
class Entry:
    """A named object as search shows it."""

    kind: str
    name: str
    owner: str | None
    detail: str
    """What kind of source or consumer, a team's contact, a reader's reads."""
    summary: str
    text: str
    """Name and description, lower-cased (what the terms are matched in)."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "name": self.name, "owner": self.owner,
                "detail": self.detail, "summary": self.summary}


def _entry(kind: str, name: str, owner: str | None, detail: str, description: str) -> Entry:
    return Entry(kind, name, owner, detail, first_line(description, 200),
                 f"{name}\n{description}".lower())


def _rank(entry: Entry, phrase: str) -> tuple[int, str]:
    name = entry.name.lower()
    return (0 if name == phrase else 1 if name.startswith(phrase) else 2 if phrase in name
            else 3), entry.name


class NameDirectory:
    """The names of sources, consumers, teams and unregistered readers, searchable."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: (KINDS.index(e.kind), e.name))

    @classmethod
    def load(cls, session: Session, principals: Sequence[PrincipalRow]) -> NameDirectory:
        """Every source, consumer and team, and the principals of `principals` that are not
        registered consumers (see `registry.read.browse.principal_rows`)."""
        entries = [_entry("source", n, o, k, d) for n, o, k, d in session.execute(
            select(m.Source.name, m.Team.name, m.Source.kind, m.Source.description)
            .join(m.Team, m.Team.id == m.Source.owner_id))]
        entries += [_entry("consumer", n, o, f"{k}, {s}", d) for n, o, k, s, d in
                    session.execute(select(m.Consumer.name, m.Team.name, m.Consumer.kind,
                                           m.Consumer.stage, m.Consumer.description)
                                    .join(m.Team, m.Team.id == m.Consumer.owner_id))]
        entries += [_entry("team", n, None, c or "", d) for n, c, d in session.execute(
            select(m.Team.name, m.Team.contact, m.Team.description))]
        entries += [_entry("principal", p.name, None,
                           f"{p.total_reads:,} reads of {p.features:,} features", "")
                    for p in principals if not p.registered]
        return cls(entries)

    def find(self, text: str) -> dict[str, list[Entry]]:
        """The entries matching every term of `text`, by kind, best first."""
        terms = [t.lower() for t in search_terms(text)]
        phrase = text.strip().lower()
        found: dict[str, list[Entry]] = {kind: [] for kind in KINDS[1:]}
        if not terms:
            return found
        for entry in self.entries:
            if all(term in entry.text for term in terms):
                found[entry.kind].append(entry)
        for entries in found.values():
            entries.sort(key=lambda e: _rank(e, phrase))
        return found


def search_everything(index: FeatureSearchIndex, directory: NameDirectory, text: str, *,
                      per_kind: int = PER_KIND, kind: str = "") -> dict[str, Any]:
    """Features, sources, consumers, teams and unregistered readers matching `text`, grouped
    by kind (`per_kind` of each, or all of one `kind`... up to 500), with each group's total."""
    text = text.strip()[:200]
    groups: list[dict[str, Any]] = []
    if text:
        limit = 500 if kind else per_kind
        features = index.find(text, sort="relevance")
        if kind in ("", "feature"):
            groups.append({
                "kind": "feature", "label": KIND_LABELS["feature"], "total": features.total,
                "items": [{"type": "feature", "name": f.name, "owner": f.owner,
                           "detail": f"{f.dtype}, {f.status}", "summary": f.summary}
                          for f in features.items(0, limit)]})
        for other, entries in directory.find(text).items():
            if kind in ("", other):
                groups.append({"kind": other, "label": KIND_LABELS[other],
                               "total": len(entries),
                               "items": [e.to_dict() for e in entries[:limit]]})
    return {"q": text, "kind": kind, "total": sum(g["total"] for g in groups),
            "groups": [g for g in groups if g["total"]], "kinds": list(KINDS),
            "labels": KIND_LABELS}
