"""The fast YAML reader (yaml-rs) reads large specs, and only where it cannot differ from the
line-tracking reader (PyYAML on libyaml): the same entries, the same problems at the same
lines, and a refusal instead of a crash on anything it was not asked to read."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.catalog import spec as spec_module
from registry.catalog.plan import make_plan
from registry.catalog.spec import Spec, parse_documents
from registry.catalog.state import CatalogState
from registry.core.errors import InvalidInput, Problem

pytest.importorskip("yaml_rs")

BASE = """\
teams:
  - name: growth
sources:
  - name: warehouse.clicks
    kind: table
    owner: growth
features:
  - name: clicks_7d
    owner: growth
    dtype: float
    description: Clicks in the last seven days
    sources: [warehouse.clicks]
    tags: [growth]
"""


def read(documents: list[tuple[str, str]], *, fast: bool,
         monkeypatch: pytest.MonkeyPatch) -> Spec:
    monkeypatch.setattr(spec_module, "FAST_READ_MIN_CHARS", 0 if fast else 10**12)
    return parse_documents(documents, defer=True)


def read_fast(text: str) -> bool:
    """True when the fast reader took the whole file."""
    return spec_module._read_fast(Spec(), "f.yaml", text)


def summary(spec: Spec) -> dict[str, Any]:
    """What a reader produced: every entry, where it is declared, and every problem."""
    return {
        "entries": {kind: {name: (located.entry, located.file, located.location())
                           for name, located in spec.of(kind).items()}
                    for kind in ("teams", "sources", "features", "consumers")},
        "problems": spec.problems, "invalid": spec.invalid, "complete": spec.complete,
    }


def test_a_plain_catalog_is_read_fast_and_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_fast(BASE)
    fast = read([("c.yaml", BASE)], fast=True, monkeypatch=monkeypatch)
    assert type(fast.features["clicks_7d"]).__name__ == "_FastLocated"
    slow = read([("c.yaml", BASE)], fast=False, monkeypatch=monkeypatch)
    assert type(slow.features["clicks_7d"]).__name__ == "Located"
    assert summary(fast) == summary(slow)
    assert fast.features["clicks_7d"].location()[0] == BASE.splitlines().index(
        "  - name: clicks_7d") + 1


def test_a_large_catalog_takes_the_fast_reader_without_being_told() -> None:
    features = "".join(f"  - name: f{i:05d}\n    owner: growth\n    dtype: float\n"
                       f"    description: Feature number {i}, with words to make it long\n"
                       f"    sources: [warehouse.clicks]\n    tags: [growth, daily]\n"
                       for i in range(1, 1400))
    text = BASE + features
    assert len(text) >= spec_module.FAST_READ_MIN_CHARS
    spec = parse_documents([("big.yaml", text)])
    assert len(spec.features) == 1400
    assert type(spec.features["f00001"]).__name__ == "_FastLocated"


@pytest.mark.parametrize(("value", "why"), [
    ("yes", "YAML 1.1 reads it as true"),
    ("on", "YAML 1.1 reads it as true"),
    ("017", "YAML 1.1 reads it as octal 15, YAML 1.2 as 17"),
    ("0o17", "YAML 1.2 reads it as 15, YAML 1.1 as text"),
    ("1e3", "YAML 1.2 reads it as 1000.0, YAML 1.1 as text"),
    ("1_000", "a number in YAML 1.1"),
    ("1:20", "sexagesimal 80 in YAML 1.1"),
    ("2025-01-02", "a date"),
    ("3.5", "a number"),
    ("'yes'", "quoted, but the fast reader cannot tell"),
    ("!!str 1", "a tag"),
    ("&a x", "an anchor"),
])
def test_values_the_readers_could_read_differently_are_declined(
        value: str, why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE.replace("Clicks in the last seven days", value)
    assert not read_fast(text), why
    fast = read([("c.yaml", text)], fast=True, monkeypatch=monkeypatch)
    slow = read([("c.yaml", text)], fast=False, monkeypatch=monkeypatch)
    assert summary(fast) == summary(slow)


@pytest.mark.parametrize("text", [
    "\ufeff" + BASE,  # a byte-order mark: YAML 1.2 keeps it in the first key
    BASE.replace("growth\n", "growth\x85\n", 1),  # NEL: a line break in YAML 1.1 only
    BASE + "features_extra:\n  <<: {a: b}\n",  # a merge key
    "%YAML 1.1\n---\n" + BASE,  # a directive
    BASE + "---\nteams: []\n",  # two documents
    BASE + "features:\n  - name: dup\n    owner: growth\n    dtype: int\n",  # duplicate key
    # found in review, each read differently by yaml-rs (or accepted where libyaml refuses):
    BASE + "  - name: tz\n    owner: growth\n    dtype: int\n    description: >\n",  # "\n"
    BASE.replace("    tags: [growth]\n", "    tags: [growth]\n\t\n"),  # a tab on a blank line
    BASE.replace("- name: growth", "-\tname: growth"),  # a tab after "-"
    BASE.replace("Clicks in the last seven days", '"\\uD83D\\uDE00"'),  # escaped surrogates
    BASE.replace("tags: [growth]", "tags: [>x]"),  # ">" starting a scalar in flow
    "...\n" + BASE,  # a document end marker first
    BASE.replace("tags: [growth]", "tags: [growth, ? x]"),  # an explicit key in flow
    BASE.replace("\n", "\r"),  # CR alone as line break
    BASE.replace("tags: [growth]", "tags: {a\n      : b}"),  # a key's ":" on the next line
])
def test_what_only_the_line_tracking_reader_handles_is_declined(
        text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not read_fast(text)
    fast = read([("c.yaml", text)], fast=True, monkeypatch=monkeypatch)
    slow = read([("c.yaml", text)], fast=False, monkeypatch=monkeypatch)
    assert summary(fast) == summary(slow)


@pytest.mark.parametrize("text", [
    "- " * 50_000 + "x\n",  # yaml-rs recurses once per level: this crashed the process
    "".join("  " * i + "k:\n" for i in range(3_000)),
    "a: " + "[" * 20_000 + "]" * 20_000 + "\n",
])
def test_deep_nesting_is_refused_not_a_crash(text: str) -> None:
    """In a child process: if the fast reader were asked, the child would die of a stack
    overflow (exit -11) instead of reporting malformed YAML."""
    code = ("import sys\nfrom registry.catalog import spec\nspec.FAST_READ_MIN_CHARS = 0\n"
            "s = spec.parse_documents([('deep.yaml', sys.stdin.read())], defer=True)\n"
            "print(len(s.problems), s.problems[0].message if s.problems else '')\n")
    done = subprocess.run([sys.executable, "-c", code], input=text, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    count, _, message = done.stdout.strip().partition(" ")
    assert int(count) >= 1, done.stdout
    assert "malformed YAML" in message or "must be" in message, done.stdout


def test_a_problem_found_after_reading_names_the_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """References are checked by the plan, after the fast reader took the file: the lines are
    read then, from the same text."""
    text = BASE.replace("sources: [warehouse.clicks]", "sources: [warehouse.nowhere]")
    assert read_fast(text)
    monkeypatch.setattr(spec_module, "FAST_READ_MIN_CHARS", 0)
    with pytest.raises(InvalidInput) as caught:
        make_plan(parse_documents([("c.yaml", text)]), CatalogState())
    (problem,) = caught.value.problems
    lines = text.splitlines()
    assert "unknown source 'warehouse.nowhere'" in problem.message
    assert (problem.file, problem.line) == ("c.yaml", lines.index(
        "    sources: [warehouse.nowhere]") + 1)


def test_a_name_declared_in_two_fast_files_names_both_places(
        monkeypatch: pytest.MonkeyPatch) -> None:
    second = "features:\n  - name: other\n    owner: growth\n    dtype: int\n" \
             "  - name: clicks_7d\n    owner: growth\n    dtype: int\n"
    spec = read([("a.yaml", BASE), ("b.yaml", second)], fast=True, monkeypatch=monkeypatch)
    (problem,) = spec.problems
    first_line = BASE.splitlines().index("  - name: clicks_7d") + 1
    assert problem == Problem(f"duplicate feature 'clicks_7d', first declared at "
                              f"a.yaml:{first_line}", file="b.yaml", line=5)


# Documents of the spec's shape: text that is often plain, sometimes odd (quotes, colons,
# leading dashes, unicode, YAML 1.1 words), nested lists and mappings, null and booleans.
WORDS = st.sampled_from(["growth", "ads", "yes", "No", "on", "null", "~", "1.5", "017",
                         "a: b", "- x", "# not a comment", "'quoted'", '"dq"', "x\ny",
                         "trailing ", " leading", "tab\there", "ünï", "日本", "=", "<<",
                         "2025-01-02", "true", "", "0x1F", ".inf", "a,b", "[x]", "{y}"])
TEXT = st.one_of(WORDS, st.text(alphabet=st.characters(codec="utf-8",
                                                       exclude_categories=("Cs",)),
                                max_size=20))
VALUES = st.recursive(st.one_of(TEXT, st.none(), st.booleans()),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=10)
FEATURE = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), "owner": st.just("growth"),
     "dtype": st.sampled_from(["int", "float", "string"])},
    optional={"description": TEXT, "tags": st.lists(WORDS, max_size=3), "extra": VALUES})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(features=st.lists(FEATURE, max_size=4),
       style=st.sampled_from([None, '"', "'", "|", ">"]), width=st.integers(10, 100),
       flow=st.booleans())
def test_both_readers_agree_on_any_spec_like_document(
        features: list[dict[str, Any]], style: str | None, width: int, flow: bool) -> None:
    """Whatever the fast reader accepts, it reads exactly as the line-tracking reader does."""
    document = {"teams": [{"name": "growth"}], "features": features}
    try:
        text = yaml.safe_dump(document, default_style=style, width=width,
                              default_flow_style=flow, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = read([("p.yaml", text)], fast=True, monkeypatch=monkeypatch)
        slow = read([("p.yaml", text)], fast=False, monkeypatch=monkeypatch)
    assert summary(fast) == summary(slow)


PLAIN = st.sampled_from(["growth", "yes", "No", "ON", "off", "y", "null", "Null", "~", "1.5",
                         "017", "0o17", "0x1F", "1e3", "1_000", "1:20", "+5", ".5", ".inf",
                         "2025-01-02", "2025-13-01", "true", "FALSE", "=", "<<", "a b",
                         "x # comment", "'q'", '"d"', "[a, yes]", "{k: 017}", "", "-", "?"])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.tuples(st.sampled_from(["description", "tags", "bundle", "dtype",
                                                "owner", "reason", "017", "yes"]), PLAIN),
                     max_size=6))
def test_both_readers_agree_on_plain_scalars_written_by_hand(
        rows: list[tuple[str, str]]) -> None:
    """Plain (unquoted) scalars, which PyYAML's own dumper would have quoted: the words YAML
    1.1 and 1.2 read differently must send the file to the line-tracking reader."""
    text = BASE + "".join(f"    {key}: {value}\n" for key, value in rows)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = read([("p.yaml", text)], fast=True, monkeypatch=monkeypatch)
        slow = read([("p.yaml", text)], fast=False, monkeypatch=monkeypatch)
    assert summary(fast) == summary(slow)


def test_a_problem_is_still_reported_when_its_line_cannot_be_read() -> None:
    """Should the line-tracking reader ever refuse a text the fast reader took, a later
    problem is reported without its line rather than as a crash."""
    located = spec_module._FastLocated(None, "c.yaml", lines=spec_module._FileLines("a: [\n"),
                                       position=("features", 0))
    assert located.problem("unknown source 'x'") == Problem("unknown source 'x'",
                                                            file="c.yaml", line=None)


TOKENS = ["k", "j", ":", ": ", " ", "  ", "\n", "\n  ", "\n    ", "- ", "-", "\t", "|", ">",
          "|-", ">+", '"', "'", "\\", "\\n", "\\t", "\\u00e9", "[", "]", "{", "}", ",", ", ",
          "#", " #", "?", "? ", "a b", "x", "\r\n", "\r", "...", "---", "\u00e9", "  \n",
          "\n\n", "1", "0", ".", "e", "\\ ", "\\\n", "%"]


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), min_size=2, max_size=14))
def test_any_text_the_fast_reader_takes_reads_the_same(tokens: list[str]) -> None:
    """Random YAML-ish text (the review's fuzzing found the cases above this way): whatever the
    fast reader accepts, the line-tracking reader reads to the same values, not an error."""
    text = "".join(tokens)
    document = spec_module._fast_document(text)
    if document is None:
        return
    try:
        slow, duplicates = spec_module._load_yaml(text)
    except yaml.YAMLError as exc:
        raise AssertionError(f"{text!r}: taken by the fast reader, refused by libyaml: {exc}") \
            from exc
    assert not duplicates
    assert document == plain(slow), text


def plain(value: Any) -> Any:
    """The line-tracking reader's mappings as plain dicts."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def test_without_the_fast_reader_every_file_is_read_with_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """yaml-rs is optional at run time: absent, the same spec comes from the line-tracking
    reader (the README says so)."""
    monkeypatch.setitem(sys.modules, "yaml_rs", None)  # `import yaml_rs` raises ImportError
    assert not read_fast(BASE)
    spec = read([("c.yaml", BASE)], fast=True, monkeypatch=monkeypatch)
    assert type(spec.features["clicks_7d"]).__name__ == "Located"
    assert spec.features["clicks_7d"].entry.sources == ["warehouse.clicks"]
