"""The catalog's in-memory search against a plain reference: every feature checked one by one.

The n-gram index and the relevance slicing are shortcuts; these properties hold them to the
definition (a feature matches when each term is a case-insensitive substring of its name,
description or a tag; relevance puts the exact name, then names starting with the query,
then names containing it, then the rest, each by name). `tests/test_web_api.py` holds the
index to the SQL search on a stored catalog.
"""

from __future__ import annotations

from datetime import UTC, datetime

from featreg.web.filters import _markdown_html, plain_text
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.catalog.ngram_index import TrigramIndex
from registry.catalog.search import FeatureSearchIndex, IndexedFeature, search_terms

# few letters, so that random terms often match; multi-byte characters; Markdown marks
ALPHABET = "abcAB_1-é€ \n"
texts = st.text(alphabet=ALPHABET, max_size=30)
terms = st.text(alphabet=ALPHABET.replace(" ", "").replace("\n", ""), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(corpus=st.lists(texts, max_size=40), query=st.lists(terms, min_size=1, max_size=3),
       segment_bytes=st.sampled_from([1, 40, 4 * 2**20]))
def test_ngram_index_finds_exactly_the_texts_containing_every_term(
        corpus: list[str], query: list[str], segment_bytes: int) -> None:
    index = TrigramIndex(corpus, segment_bytes=segment_bytes)
    expected = [i for i, text in enumerate(corpus) if all(t in text for t in query)]
    assert index.containing(query) == expected


@settings(max_examples=100, deadline=None)
@given(corpus=st.lists(texts, min_size=1, max_size=20), data=st.data())
def test_a_substring_of_a_text_always_finds_it(corpus: list[str], data: st.DataObject) -> None:
    index = TrigramIndex(corpus)
    which = data.draw(st.integers(0, len(corpus) - 1))
    words = corpus[which].split()
    if words:
        word = data.draw(st.sampled_from(words))
        start = data.draw(st.integers(0, len(word) - 1))
        term = word[start:data.draw(st.integers(start + 1, len(word)))]
        assert which in index.containing([term])


def test_an_empty_index_finds_nothing() -> None:
    assert TrigramIndex([]).containing(["abc"]) == []
    assert TrigramIndex(["", "ab"]).containing(["ab", "b"]) == [1]


def _feature(i: int, name: str, description: str, tags: tuple[str, ...], owner: str,
             findings: tuple[str, ...]) -> IndexedFeature:
    return IndexedFeature(i, name, owner, "active", "float",
                          datetime(2026, 1, 1 + i % 28, tzinfo=UTC),
                          "\n".join([name, description, *tags]).lower(), name.lower(),
                          description, None, tags, findings)


def _reference(features: list[IndexedFeature], text: str, owner: str, tag: str,
               finding: str) -> list[str]:
    """Matching names in relevance order, one feature at a time."""
    words = [t.lower() for t in search_terms(text)]
    phrase = text.strip().lower()

    def rank(f: IndexedFeature) -> int:
        if not phrase or f.lname == phrase:
            return 0
        return 1 if f.lname.startswith(phrase) else 2 if phrase in f.lname else 3

    found = [f for f in features
             if all(w in f.text for w in words) and (not owner or f.owner == owner)
             and (not tag or tag in f.tags)
             and (not finding or (finding in f.findings if finding != "any" else f.findings))]
    return [f.name for f in sorted(found, key=lambda f: (rank(f), f.name))]


names = st.text(alphabet="abAB_1é", min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(names, texts, st.lists(st.sampled_from(["x", "yy", "ab"]),
                                                      max_size=2, unique=True),
                               st.sampled_from(["t1", "t2"]),
                               st.lists(st.sampled_from(["legacy", "epsilon"]), max_size=2,
                                        unique=True)),
                     max_size=30, unique_by=lambda r: r[0]),
       query=st.lists(terms, max_size=2).map(" ".join),
       owner=st.sampled_from(["", "t1"]), tag=st.sampled_from(["", "ab"]),
       finding=st.sampled_from(["", "legacy", "any"]),
       start=st.integers(0, 12), size=st.integers(1, 12))
def test_search_pages_match_the_reference_in_relevance_order(
        rows: list[tuple[str, str, list[str], str, list[str]]], query: str, owner: str,
        tag: str, finding: str, start: int, size: int) -> None:
    features = [_feature(i, name, description, tuple(tags), team, tuple(sorted(kinds)))
                for i, (name, description, tags, team, kinds) in enumerate(rows)]
    index = FeatureSearchIndex(features)
    expected = _reference(sorted(features, key=lambda f: f.name), query, owner, tag, finding)
    result = index.find(query, owner=owner, tag=tag, finding=finding, sort="relevance")
    assert result.total == len(expected)
    assert [f.name for f in result.items(start, start + size)] == \
        expected[start:start + size]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet="aZ09_ ,.;:'\"?()/%+=-", min_size=1, max_size=25),
                 st.text(alphabet="aZ09_ ,.;:'\"?()/%+=-#*<>&`[]!é\u00a0\t", min_size=1,
                         max_size=25)))
def test_the_plain_summary_shortcut_gives_what_markdown_gives(line: str) -> None:
    import nh3

    line = line.strip()
    assert str(plain_text(line)) == nh3.clean(_markdown_html(line), tags=set()).strip()


def test_a_long_summary_is_shortened_after_its_markdown_is_rendered() -> None:
    line = "Ratio of clicks to opens " + "x" * 130 + " (see the [growth guide](https://example.com/g))"
    shown = str(plain_text(line))
    assert shown.endswith("…") and len(shown) == 160
    assert "[" not in shown and "](" not in shown
    assert str(plain_text("a <b>&amp; " + "y" * 200)).startswith("a &amp; yyy")
    assert str(plain_text("short [guide](https://example.com)")) == "short guide"
