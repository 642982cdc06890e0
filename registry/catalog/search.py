"""Catalog search: which features match a query, and in what order of relevance.

Search text is split into terms; a feature matches when every term occurs in its name, its
description or one of its tags (case-insensitive substring). Ordering puts an exact name match
first, then names starting with the query, then names containing it, then the rest.

Two implementations with the same answers (a test holds them together):

* `feature_search_condition` / `relevance_order`: a WHERE clause and ORDER BY key for any SQL
  query ((I)LIKE; every backend, no schema support needed). The reference.
* `FeatureSearchIndex`: the searchable fields of every feature held in memory, for the
  catalog page, with an n-gram index of their text (`registry.catalog.ngram_index`) and the
  positions of each owner, status, tag and finding kind. A search reads the postings of its
  terms' n-grams and checks only the candidates, and the relevance order is computed for the
  page asked for, so a query over 20,000 features takes well under a millisecond where the
  LIKE scan takes tens (it reads every row's description from disk pages). Substring
  matching is the point: a tokenising full-text search (SQLite FTS5's default tokenizer,
  PostgreSQL tsvector) would not find "click" in "user_clicks_7d". The index is rebuilt when
  `registry.read.lists.search_version` changes (after any change set or analysis run).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, false, or_, select, true
from sqlalchemy.orm import Session

from registry.core.batches import chunks
from registry.read.common import ACTIVE_STATUSES, first_line
from registry.store import models as m

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


class IndexedFeature(NamedTuple):
    """One feature's searchable fields. A tuple of strings, numbers and tuples: the garbage
    collector stops tracking such tuples, so a large index adds nothing to its pauses."""

    id: int
    name: str
    owner: str
    status: str
    dtype: str
    created: datetime
    text: str
    """name, description and tags, lower-cased, separated by newlines (a term never spans
    two of them: terms have no whitespace)."""
    lname: str
    """The name, lower-cased."""
    summary: str
    sunset: str | None
    tags: tuple[str, ...]
    findings: tuple[str, ...]
    """Kinds of the feature's active findings, sorted."""

    def item(self) -> dict[str, Any]:
        """The feature as a catalog row (`registry.read.lists.catalog_page` items)."""
        return {"name": self.name, "owner": self.owner, "dtype": self.dtype,
                "status": self.status, "summary": self.summary, "sunset": self.sunset,
                "created": self.created.isoformat(), "tags": list(self.tags),
                "findings": list(self.findings)}


SORT_KEYS: dict[str, Callable[[IndexedFeature], Any]] = {
    "name": lambda f: f.name,
    "owner": lambda f: (f.owner, f.name),
    "status": lambda f: (f.status, f.name),
    "dtype": lambda f: (f.dtype, f.name),
    "created": lambda f: (f.created, f.name),
}
LAST_CHAR = "\U0010ffff"


def _merge_key(sort: str, phrase: str) -> tuple[Callable[[IndexedFeature], Any], bool]:
    """The key (and direction) that puts features in the order `find` gives for `sort`."""
    if sort.lstrip("-") == "relevance" and phrase:
        def relevance(f: IndexedFeature) -> tuple[int, str]:
            rank = (0 if f.lname == phrase else 1 if f.lname.startswith(phrase)
                    else 2 if phrase in f.lname else 3)
            return rank, f.name
        return relevance, False
    if sort == "-name":
        return SORT_KEYS["name"], True
    if sort == "-created":
        return (lambda f: (-f.created.timestamp(), f.name)), False
    return SORT_KEYS.get(sort.lstrip("-"), SORT_KEYS["name"]), False


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The features a search found: how many, and any slice of them in the asked order
    (computed for the slice only where the order allows it)."""

    total: int
    _slice: Callable[[int, int], list[IndexedFeature]]

    def items(self, start: int = 0, stop: int | None = None) -> list[IndexedFeature]:
        return self._slice(start, self.total if stop is None else stop)


class FeatureSearchIndex:
    """Every feature's searchable fields in memory, sorted by name, with a trigram index of
    their text and the positions of each owner, status, tag and finding kind. Read-only once
    built; safe to share between threads."""

    def __init__(self, features: Iterable[IndexedFeature]) -> None:
        self.features = sorted(features, key=lambda f: f.name)
        from registry.catalog.ngram_index import TrigramIndex  # numpy: only when searching

        self._text = TrigramIndex([f.text for f in self.features])
        self._names = TrigramIndex([f.lname for f in self.features])
        self._facets: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._exact: dict[str, tuple[int, ...]] = {}
        for i, f in enumerate(self.features):
            self._exact[f.lname] = (*self._exact.get(f.lname, ()), i)
            for facet in (("owner", f.owner), ("status", f.status),
                          *(("tag", t) for t in f.tags),
                          *(("finding", k) for k in f.findings),
                          *((("finding", "any"),) if f.findings else ())):
                self._facets[facet].append(i)
        self._by_lname = sorted(range(len(self.features)), key=lambda i: self.features[i].lname)
        self._lnames = [self.features[i].lname for i in self._by_lname]
        self._orders: dict[str, list[int]] = {}
        self._rank: dict[str, list[int]] = {}
        # set by `updated`: the whole index this one lays changed features over
        self._base: FeatureSearchIndex | None = None
        self._overlay: dict[str, IndexedFeature | None] = {}  # name: now (None: removed)
        self._extra: FeatureSearchIndex | None = None  # the overlay's features
        self._gone: list[int] = []  # positions in _base of the overlay's names

    @classmethod
    def load(cls, session: Session) -> FeatureSearchIndex:
        """Every feature with its tags and the kinds of its active findings (valid until the
        next change set or analysis run: see `registry.read.lists.search_version`)."""
        return cls(load_features(session))

    def updated(self, session: Session, since_change_set: int) -> FeatureSearchIndex:
        """This index with the features that change sets after `since_change_set` added,
        changed or removed (their audit events name them), read again: a small index of
        those features laid over this one, which queries merge (milliseconds, where building
        the whole index takes seconds). The findings are as this index has them: an
        analysis run needs a whole new index."""
        names = set(session.scalars(
            select(m.AuditEvent.object_name).where(m.AuditEvent.changeset_id > since_change_set,
                                                   m.AuditEvent.object_type == "feature")))
        current = {f.name: f for f in load_features(session, sorted(names))}
        return self.with_changes({name: current.get(name) for name in names})

    def with_changes(self, changes: dict[str, IndexedFeature | None]) -> FeatureSearchIndex:
        """This index with each named feature replaced, added or (None) removed."""
        base = self._base or self
        overlay = {**self._overlay, **changes}
        index = copy(base)
        index._base = base
        index._overlay = overlay
        index._extra = FeatureSearchIndex(f for f in overlay.values() if f is not None)
        index._gone = sorted(p for p in (base._position(n) for n in overlay) if p is not None)
        index.features = base.features if not overlay else [
            *(f for f in base.features if f.name not in overlay), *index._extra.features]
        return index

    @property
    def overlaid(self) -> int:
        """How many features the overlay of `updated` holds (0: a whole index)."""
        return len(self._overlay)

    def _position(self, name: str) -> int | None:
        i = bisect_left(self.features, name, key=lambda f: f.name)
        return i if i < len(self.features) and self.features[i].name == name else None

    def _matching(self, text: str, filters: dict[str, str]) -> list[int] | None:
        """Positions (ascending, so in name order) of the features that match; None: all."""
        terms = [t.lower() for t in search_terms(text)]
        found = self._text.containing(terms) if terms else None
        for facet, value in filters.items():
            if not value:
                continue
            if found is None:
                found = self._facets.get((facet, value), [])
            else:
                wanted = set(self._facets.get((facet, value), ()))
                found = [i for i in found if i in wanted]
        return found

    def find(self, text: str = "", *, owner: str = "", status: str = "", tag: str = "",
             finding: str = "", sort: str = "name") -> SearchResult:
        """The matching features in the requested order (`sort` as in CatalogQuery;
        "relevance" as `relevance_order`, then name). `finding`: a kind, or "any" (has an
        active one)."""
        args = {"owner": owner, "status": status, "tag": tag, "finding": finding, "sort": sort}
        if self._base is None or self._extra is None:
            return self._find(text, **args)
        base, extra, gone = self._base, self._extra, self._gone
        under = base._find(text, **args)
        over = extra._find(text, **args)
        found = base._matching(text, {"owner": owner, "status": status, "tag": tag,
                                      "finding": finding})
        hidden = len(gone) if found is None else sum(
            1 for p in gone if (i := bisect_left(found, p)) < len(found) and found[i] == p)
        names = set(self._overlay)
        key, reverse = _merge_key(sort, text.strip().lower())

        def slice_(start: int, stop: int) -> list[IndexedFeature]:
            kept = [f for f in under.items(0, stop + len(gone)) if f.name not in names]
            merged = heapq.merge(kept[:stop], over.items(0, stop), key=key, reverse=reverse)
            return list(islice(merged, start, stop))

        return SearchResult(under.total - hidden + over.total, slice_)

    def _find(self, text: str = "", *, owner: str = "", status: str = "", tag: str = "",
              finding: str = "", sort: str = "name") -> SearchResult:
        found = self._matching(text, {"owner": owner, "status": status, "tag": tag,
                                      "finding": finding})
        total = len(self.features) if found is None else len(found)
        phrase = text.strip().lower()
        if sort.lstrip("-") == "relevance" and phrase:
            return SearchResult(total, self._relevance_slicer(found, phrase))
        order = self._order(sort)
        if found is None or len(found) == len(self.features):
            positions = order
        elif sort == "name":
            positions = found
        elif len(found) < PRESORTED_FROM:
            positions = sorted(found, key=self._rank[sort].__getitem__)
        else:
            wanted = set(found)
            positions = [i for i in order if i in wanted]
        features = self.features
        return SearchResult(total, lambda a, b: [features[i] for i in positions[a:b]])

    def _relevance_slicer(self, found: list[int] | None, phrase: str
                          ) -> Callable[[int, int], list[IndexedFeature]]:
        """`relevance` order: exact name, then names starting with the phrase, then names
        containing it, then the rest, each by name. The first two come from the name
        lookups, the third from the index of names; each stops once the slice is filled."""
        features = self.features
        member = None if found is None else set(found)
        everything = range(len(features)) if found is None else found

        def matches(i: int) -> bool:
            return member is None or i in member

        exact = [i for i in self._exact.get(phrase, ()) if matches(i)]
        lo = bisect_left(self._lnames, phrase)
        hi = bisect_left(self._lnames, phrase + LAST_CHAR, lo)
        prefix = sorted(i for i in self._by_lname[lo:hi]
                        if matches(i) and features[i].lname != phrase)
        head = exact + prefix

        def slice_(start: int, stop: int) -> list[IndexedFeature]:
            if stop <= len(head):
                return [features[i] for i in head[start:stop]]
            need = stop - len(head)
            in_name = self._names_containing(phrase)
            inside: list[int] = []
            for i in in_name:
                if matches(i) and not features[i].lname.startswith(phrase):
                    inside.append(i)
                    if len(inside) >= need:
                        break
            else:  # every name match is placed: the rest follow, as far as the slice needs
                named = set(in_name)
                for i in everything:
                    if i not in named:
                        inside.append(i)
                        if len(inside) >= need:
                            break
            return [features[i] for i in (head + inside)[start:stop]]

        return slice_

    def _names_containing(self, phrase: str) -> list[int]:
        """Positions (ascending) of the names containing the phrase (which may hold spaces)."""
        if "\n" in phrase:  # the name index joins names with newlines
            return [i for i, f in enumerate(self.features) if phrase in f.lname]
        return self._names.containing([phrase])

    def _order(self, sort: str) -> list[int]:
        """Every feature position in `sort` order, computed once per index."""
        order = self._orders.get(sort)
        if order is None:
            key = sort.lstrip("-")
            positions = range(len(self.features))
            if key == "name":
                order = list(positions)[::-1] if sort.startswith("-") else list(positions)
            elif sort == "-created":
                order = sorted(positions, key=lambda i: (-self.features[i].created.timestamp(),
                                                         self.features[i].name))
            else:
                sort_key = SORT_KEYS.get(key, SORT_KEYS["name"])
                order = sorted(positions, key=lambda i: sort_key(self.features[i]))
            rank = [0] * len(order)
            for r, i in enumerate(order):
                rank[i] = r
            self._rank[sort] = rank
            self._orders[sort] = order
        return order


def load_features(session: Session, names: list[str] | None = None) -> list[IndexedFeature]:
    """Every feature (or those of `names`) as the index holds it: its searchable fields,
    tags and the kinds of its active findings."""
    tags: dict[int, list[str]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    rows: list[Any] = []
    for part in ([None] if names is None else chunks(names)):
        feature_rows = (select(m.Feature.id, m.Feature.name, m.Team.name, m.Feature.status,
                               m.Feature.dtype, m.Feature.created, m.Feature.description,
                               m.Feature.sunset)
                        .join(m.Team, m.Team.id == m.Feature.owner_id))
        tag_rows = select(m.FeatureTag.feature_id, m.FeatureTag.tag).order_by(m.FeatureTag.tag)
        finding_rows = select(m.Finding.subject_name, m.Finding.kind).where(
            m.Finding.subject_type == "feature", m.Finding.status.in_(ACTIVE_STATUSES))
        if part is not None:
            feature_rows = feature_rows.where(m.Feature.name.in_(part))
            tag_rows = tag_rows.join(m.Feature, m.Feature.id == m.FeatureTag.feature_id).where(
                m.Feature.name.in_(part))
            finding_rows = finding_rows.where(m.Finding.subject_name.in_(part))
        for fid, tag in session.execute(tag_rows):
            tags[fid].append(tag)
        for subject, kind in session.execute(finding_rows):
            kinds[subject].add(kind)
        rows.extend(session.execute(feature_rows))
    return [IndexedFeature(fid, name, owner, status, dtype, created,
                           "\n".join([name, description or "", *tags[fid]]).lower(),
                           name.lower(), first_line(description or ""),
                           sunset.isoformat() if sunset else None, tuple(tags[fid]),
                           tuple(sorted(kinds[name])))
            for fid, name, owner, status, dtype, created, description, sunset in rows]
