"""Catalog search: which features match a query, and in what order of relevance.

Search text is split into terms; a feature matches when every term occurs in its name, its
description or one of its tags (case-insensitive substring). Ordering puts an exact name match
first, then names starting with the query, then names containing it, then the rest.

Two implementations with the same answers (a test holds them together):

* `feature_search_condition` / `relevance_order`: a WHERE clause and ORDER BY key for any SQL
  query ((I)LIKE; every backend, no schema support needed). The reference.
* `FeatureSearchIndex`: the searchable fields of every feature held in memory, for the
  catalog page. A substring scan of 20,000 features in memory takes a few milliseconds where
  the LIKE scan takes tens (it reads every row's description from disk pages), which decides
  whether the catalog answers within its latency budget under concurrent users. The index is
  rebuilt when `registry.queries.search_version` changes (after any change set or analysis).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_, select, true
from sqlalchemy.orm import Session

from registry import models as m
from registry.queries_common import ACTIVE_STATUSES, first_line

MAX_TERMS = 8
PRESORTED_FROM = 2000  # results this large are cut from a precomputed order, not sorted


def search_terms(text: str) -> list[str]:
    """The distinct terms of a query, in order, at most MAX_TERMS."""
    terms: list[str] = []
    for term in text.split():
        if term.lower() not in (t.lower() for t in terms):
            terms.append(term)
    return terms[:MAX_TERMS]


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _term_condition(term: str) -> ColumnElement[bool]:
    pattern = _like_pattern(term)
    tagged = select(m.FeatureTag.feature_id).where(m.FeatureTag.tag.ilike(pattern, escape="\\"))
    return or_(
        m.Feature.name.ilike(pattern, escape="\\"),
        m.Feature.description.ilike(pattern, escape="\\"),
        m.Feature.id.in_(tagged),
    )


def feature_search_condition(text: str) -> ColumnElement[bool]:
    """A WHERE clause on `features` (and its tags) for the query text; empty text is true."""
    terms = search_terms(text)
    if not terms:
        return true()
    return and_(*(_term_condition(t) for t in terms))


def relevance_order(text: str) -> ColumnElement[int]:
    """An ORDER BY key (smaller is better) ranking name matches above description matches."""
    phrase = text.strip()
    if not phrase:
        return case((false(), 0), else_=0)
    escaped = phrase.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return case(
        (m.Feature.name.ilike(escaped, escape="\\"), 0),
        (m.Feature.name.ilike(f"{escaped}%", escape="\\"), 1),
        (m.Feature.name.ilike(f"%{escaped}%", escape="\\"), 2),
        else_=3,
    )


def relevance(name: str, phrase: str) -> int:
    """`relevance_order` for one name, in Python (0 exact, 1 prefix, 2 contains, 3 other)."""
    name, phrase = name.lower(), phrase.strip().lower()
    if not phrase:
        return 0
    if name == phrase:
        return 0
    if name.startswith(phrase):
        return 1
    return 2 if phrase in name else 3


@dataclass(frozen=True, slots=True)
class IndexedFeature:
    id: int
    name: str
    owner: str
    status: str
    dtype: str
    created: datetime
    tags: frozenset[str]
    text: str
    """name, description and tags, lower-cased, separated by newlines (a term never spans
    two of them: terms have no whitespace)."""
    lname: str
    """The name, lower-cased."""
    summary: str
    sunset: str | None
    tag_list: tuple[str, ...]
    findings: tuple[str, ...]
    """Kinds of the feature's active findings, sorted."""

    def item(self) -> dict[str, Any]:
        """The feature as a catalog row (`registry.queries.catalog_page` items)."""
        return {"name": self.name, "owner": self.owner, "dtype": self.dtype,
                "status": self.status, "summary": self.summary, "sunset": self.sunset,
                "created": self.created.isoformat(), "tags": list(self.tag_list),
                "findings": list(self.findings)}


SORT_KEYS = {
    "name": lambda f: f.name,
    "owner": lambda f: (f.owner, f.name),
    "status": lambda f: (f.status, f.name),
    "dtype": lambda f: (f.dtype, f.name),
    "created": lambda f: (f.created, f.name),
}


class FeatureSearchIndex:
    """Every feature's searchable fields in memory, sorted by name. Read-only once built."""

    def __init__(self, features: Iterable[IndexedFeature]) -> None:
        self.features = sorted(features, key=lambda f: f.name)
        self._orders: dict[str, list[IndexedFeature]] = {}
        self._rank: dict[str, dict[int, int]] = {}
        self._texts = [f.text for f in self.features]

    def _containing(self, term: str) -> list[IndexedFeature]:
        """Features whose text contains the (lower-case) term, in name order."""
        return [f for f, text in zip(self.features, self._texts, strict=True) if term in text]

    @classmethod
    def load(cls, session: Session) -> FeatureSearchIndex:
        """Every feature with its tags and the kinds of its active findings (valid until the
        next change set or analysis run: see `registry.queries.search_version`)."""
        tags: dict[int, list[str]] = defaultdict(list)
        for fid, tag in session.execute(select(m.FeatureTag.feature_id, m.FeatureTag.tag)
                                        .order_by(m.FeatureTag.tag)):
            tags[fid].append(tag)
        kinds: dict[str, set[str]] = defaultdict(set)
        for subject, kind in session.execute(
                select(m.Finding.subject_name, m.Finding.kind).where(
                    m.Finding.subject_type == "feature",
                    m.Finding.status.in_(ACTIVE_STATUSES))):
            kinds[subject].add(kind)
        rows = session.execute(
            select(m.Feature.id, m.Feature.name, m.Team.name, m.Feature.status,
                   m.Feature.dtype, m.Feature.created, m.Feature.description, m.Feature.sunset)
            .join(m.Team, m.Team.id == m.Feature.owner_id))
        return cls(
            IndexedFeature(fid, name, owner, status, dtype, created, frozenset(tags[fid]),
                           "\n".join([name, description or "", *tags[fid]]).lower(),
                           name.lower(), first_line(description or ""),
                           sunset.isoformat() if sunset else None, tuple(tags[fid]),
                           tuple(sorted(kinds[name])))
            for fid, name, owner, status, dtype, created, description, sunset in rows)

    def search(self, text: str = "", *, owner: str = "", status: str = "", tag: str = "",
               finding: str = "", sort: str = "name") -> list[IndexedFeature]:
        """Matching features in the requested order (`sort` as in CatalogQuery; "relevance"
        ranks by `relevance`, then name). `finding`: a kind, or "any" (has an active one)."""
        terms = [t.lower() for t in search_terms(text)]
        found = self._containing(terms[0]) if terms else self.features
        for term in terms[1:]:
            found = [f for f in found if term in f.text]
        if owner:
            found = [f for f in found if f.owner == owner]
        if status:
            found = [f for f in found if f.status == status]
        if tag:
            found = [f for f in found if tag in f.tags]
        if finding == "any":
            found = [f for f in found if f.findings]
        elif finding:
            found = [f for f in found if finding in f.findings]
        if sort.lstrip("-") == "relevance":
            return _by_relevance(found, text.strip().lower())
        order = self._order(sort)
        if len(found) == len(self.features):
            return list(order)
        if len(found) < PRESORTED_FROM:
            return sorted(found, key=lambda f: self._rank[sort][f.id])
        wanted = {f.id for f in found}
        return [f for f in order if f.id in wanted]

    def _order(self, sort: str) -> list[IndexedFeature]:
        """Every feature in `sort` order, computed once per index."""
        order = self._orders.get(sort)
        if order is None:
            key = sort.lstrip("-")
            if key == "name":
                order = self.features[::-1] if sort.startswith("-") else self.features
            elif sort == "-created":
                order = sorted(self.features, key=lambda f: (-f.created.timestamp(), f.name))
            else:
                order = sorted(self.features, key=SORT_KEYS.get(key, SORT_KEYS["name"]))
            self._rank[sort] = {f.id: i for i, f in enumerate(order)}
            self._orders[sort] = order
        return order


def _by_relevance(found: list[IndexedFeature], phrase: str) -> list[IndexedFeature]:
    """`relevance` order of name-sorted features: stable buckets, each still by name."""
    if not phrase:
        return list(found)
    exact = [f for f in found if f.lname == phrase]
    prefix = [f for f in found if f.lname != phrase and f.lname.startswith(phrase)]
    inside = [f for f in found if not f.lname.startswith(phrase) and phrase in f.lname]
    rest = [f for f in found if phrase not in f.lname]
    return exact + prefix + inside + rest
