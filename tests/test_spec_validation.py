"""Spec validation as a unit: YAML text in, Problems (file, line, message) out. No database.

Reference checks (unknown names, cycles, producers) live in `make_plan`; with an empty
`CatalogState` they see only what the files declare, exactly as on a fresh database.
"""

from __future__ import annotations

import json

import pytest

from registry.catalog import spec as spec_module
from registry.catalog.plan import make_plan
from registry.catalog.spec import MAX_DESCRIPTION_CHARS, NAME_RE, Spec, parse_documents
from registry.catalog.state import CatalogState
from registry.core.errors import InvalidInput, Problem

FILE = "catalog.yaml"


@pytest.fixture(autouse=True, params=["line-tracking reader", "fast reader first"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every case twice: as a small spec is read, and as a large one is (the fast reader
    first, the line-tracking reader for what it declines): the same entries and the same
    problems, at the same lines, either way."""
    if request.param == "fast reader first":
        monkeypatch.setattr(spec_module, "FAST_READ_MIN_CHARS", 0)
    return str(request.param)

BASE = """\
teams:
  - name: growth
    contact: growth@example.com
sources:
  - name: warehouse.clicks
    kind: table
    owner: growth
"""


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert hits, f"{needle!r} not in the test document"
    return hits[0]


def problems_of(*documents: tuple[str, str]) -> list[Problem]:
    """Every problem that parsing plus planning against an empty catalog reports."""
    with pytest.raises(InvalidInput) as caught:
        spec = parse_documents(documents)
        make_plan(spec, CatalogState())
    return caught.value.problems


def validate(text: str) -> Spec:
    spec = parse_documents([(FILE, text)])
    make_plan(spec, CatalogState())
    return spec


def test_the_base_document_is_valid() -> None:
    spec = validate(BASE)
    assert set(spec.teams) == {"growth"}
    assert set(spec.sources) == {"warehouse.clicks"}


# Each case: (id, document, text on the line the problem must name, words the message must hold)
BAD_INPUTS = [
    ("unknown-top-level-key", BASE + "teems:\n  - name: ads\n", "teems:", "unknown top-level key"),
    ("unknown-field", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    colour: red\n", "colour: red", "unknown field 'colour'"),
    ("unknown-team", BASE + "features:\n  - name: f1\n    owner: nobody\n    dtype: int\n",
     "owner: nobody", "unknown team 'nobody'"),
    ("unknown-source", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    sources: [warehouse.views]\n", "sources: [warehouse.views]",
     "unknown source 'warehouse.views'"),
    ("unknown-feature-in-depends_on", BASE + "features:\n  - name: f1\n    owner: growth\n"
     "    dtype: int\n    depends_on: [ghost]\n", "depends_on: [ghost]", "unknown feature 'ghost'"),
    ("unknown-feature-of-consumer", BASE + "consumers:\n  - name: ctr\n    kind: model\n"
     "    owner: growth\n    features: [ghost]\n", "features: [ghost]", "unknown feature 'ghost'"),
    ("unknown-replacement", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    status: deprecated\n    sunset: 2030-01-01\n    replacement: ghost\n",
     "replacement: ghost", "unknown feature 'ghost'"),
    ("unknown-produced_by", BASE + "  - name: ctr.scores\n    kind: model_output\n"
     "    owner: growth\n    produced_by: ghost_model\n", "produced_by: ghost_model",
     "unknown consumer 'ghost_model'"),
    ("unknown-produces", BASE + "consumers:\n  - name: ctr\n    kind: model\n    owner: growth\n"
     "    produces: [ghost.scores]\n", "produces: [ghost.scores]", "unknown source 'ghost.scores'"),
    ("model_output-without-produced_by", BASE + "  - name: ctr.scores\n    kind: model_output\n"
     "    owner: growth\n", "kind: model_output", "produced_by"),
    ("invalid-name", BASE + "features:\n  - name: 9lives\n    owner: growth\n    dtype: int\n",
     "name: 9lives", "invalid name '9lives'"),
    ("name-with-space", "teams:\n  - name: \"growth team\"\n", "growth team", "invalid name"),
    ("invalid-dtype", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: integer\n",
     "dtype: integer", "dtype"),
    ("invalid-source-kind", BASE + "  - name: lake.events\n    kind: lake\n    owner: growth\n",
     "kind: lake", "kind"),
    ("invalid-consumer-kind", BASE + "consumers:\n  - name: ctr\n    kind: robot\n"
     "    owner: growth\n", "kind: robot", "kind"),
    ("invalid-status", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    status: gone\n", "status: gone", "status"),
    ("invalid-created-text", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    created: last tuesday\n", "created: last tuesday", "created"),
    ("invalid-created-month", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    created: 2025-13-01\n", "created: 2025-13-01", "created"),
    ("invalid-sunset-day", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    status: deprecated\n    sunset: 2026-02-30\n", "sunset: 2026-02-30", "sunset"),
    ("deprecated-without-sunset", BASE + "features:\n  - name: f1\n    owner: growth\n"
     "    dtype: int\n    status: deprecated\n", "name: f1", "sunset"),
    ("sunset-without-deprecation", BASE + "features:\n  - name: f1\n    owner: growth\n"
     "    dtype: int\n    sunset: 2030-01-01\n", "name: f1", "status: deprecated"),
    ("invalid-contact", "teams:\n  - name: growth\n    contact: not-an-address\n",
     "contact: not-an-address", "e-mail"),
    ("invalid-tag", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    tags: ['has space']\n", "tags:", "invalid tag"),
    ("missing-required-field", BASE + "features:\n  - name: f1\n    owner: growth\n",
     "name: f1", "missing required field 'dtype'"),
    ("duplicate-name", BASE + "  - name: warehouse.clicks  # again\n    kind: table\n"
     "    owner: growth\n", "# again", "duplicate source 'warehouse.clicks'"),
    ("duplicate-key", "teams:\n  - name: growth\n    name: ads\n", "name: ads", "duplicate key"),
    ("section-not-a-list", "teams: growth\n", "teams:", "must be a list"),
    ("self-dependency", BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
     "    depends_on: [f1]\n", "name: f1", "f1 -> f1"),
]


@pytest.mark.parametrize(("document", "needle", "words"),
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_names_file_and_line(document: str, needle: str, words: str) -> None:
    problems = problems_of((FILE, document))
    matching = [p for p in problems if words in p.message]
    assert matching, f"no problem mentions {words!r}: {[str(p) for p in problems]}"
    expected_line = line_of(document, needle)
    assert any(p.file == FILE and p.line == expected_line for p in matching), (
        f"expected {FILE}:{expected_line}, got {[str(p) for p in matching]}")
    assert all(str(p).startswith(f"{FILE}:{p.line}: ") for p in matching)


@pytest.mark.parametrize("document", [
    "teams:\n  - {name: growth\n",
    "teams:\n  - name: growth\n\t- name: ads\n",
    "teams: [growth\n",
    "features:\n  - name: f1\n   owner: growth\n",
])
def test_malformed_yaml_names_file_and_line(document: str) -> None:
    problems = problems_of((FILE, document))
    assert len(problems) == 1
    (problem,) = problems
    assert problem.message.startswith("malformed YAML")
    assert problem.file == FILE
    assert problem.line is not None and 1 <= problem.line <= document.count("\n") + 1


def test_malformed_file_does_not_hide_problems_in_other_files() -> None:
    other = BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: integer\n"
    problems = problems_of(("broken.yaml", "teams: [growth\n"), ("other.yaml", other))
    assert {p.file for p in problems} == {"broken.yaml", "other.yaml"}


def test_duplicate_names_across_two_files_name_both_places() -> None:
    first = BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n"
    second = "features:\n  - name: other\n    owner: growth\n    dtype: int\n" \
             "  - name: f1\n    owner: growth\n    dtype: float\n"
    problems = problems_of(("a.yaml", first), ("b.yaml", second))
    (problem,) = problems
    assert problem.file == "b.yaml"
    assert problem.line == line_of(second, "name: f1")
    assert f"a.yaml:{line_of(first, 'name: f1')}" in problem.message


def _cycle_document(edges: dict[str, list[str]]) -> str:
    text = BASE + "features:\n"
    for name, deps in edges.items():
        text += f"  - name: {name}\n    owner: growth\n    dtype: float\n"
        text += f"    depends_on: [{', '.join(deps)}]\n"
    return text


@pytest.mark.parametrize("edges", [
    {"a": ["b"], "b": ["c"], "c": ["a"]},
    {"a": ["b"], "b": ["a"]},
    {"root": [], "a": ["root", "c"], "b": ["a"], "c": ["b"], "leaf": ["c"]},
])
def test_depends_on_cycle_is_shown(edges: dict[str, list[str]]) -> None:
    document = _cycle_document(edges)
    problems = [p for p in problems_of((FILE, document)) if "cycle" in p.message]
    assert len(problems) == 1
    (problem,) = problems
    path = problem.message.split("depends_on cycle: ", 1)[1].split(" -> ")
    assert path[0] == path[-1] and len(path) >= 3
    for derived, dependency in zip(path, path[1:], strict=False):
        assert dependency in edges[derived], f"{derived} -> {dependency} is not an edge"
    cycle_members = set(path)
    assert problem.file == FILE
    assert problem.line in {line_of(document, f"name: {n}") + 3 for n in cycle_members}


def test_several_problems_are_reported_in_one_pass() -> None:
    document = BASE + (
        "features:\n"
        "  - name: f1\n    owner: growth\n    dtype: integer\n"
        "  - name: 2bad\n    owner: growth\n    dtype: int\n"
        "  - name: f3\n    owner: growth\n    dtype: int\n    status: deprecated\n"
        "consumers:\n"
        "  - name: ctr\n    kind: robot\n    owner: growth\n"
        "teems: []\n"
    )
    problems = problems_of((FILE, document))
    assert sorted(p.line or 0 for p in problems) == sorted(
        [line_of(document, "dtype: integer"), line_of(document, "name: 2bad"),
         line_of(document, "name: f3"), line_of(document, "kind: robot"),
         line_of(document, "teems:")])
    assert {p.file for p in problems} == {FILE}


def test_several_reference_problems_are_reported_in_one_pass() -> None:
    document = BASE + (
        "features:\n"
        "  - name: f1\n    owner: nobody\n    dtype: int\n    sources: [nowhere]\n"
        "  - name: f2\n    owner: growth\n    dtype: int\n    depends_on: [ghost]\n"
        "consumers:\n"
        "  - name: ctr\n    kind: model\n    owner: growth\n    features: [f1, phantom]\n"
    )
    problems = problems_of((FILE, document))
    words = ["unknown team 'nobody'", "unknown source 'nowhere'", "unknown feature 'ghost'",
             "unknown feature 'phantom'"]
    for word in words:
        assert any(word in p.message for p in problems), word
    assert len(problems) == len(words)


def test_unicode_is_kept_exactly() -> None:
    text = "Ünïcödé — 日本語 🚀, décomposé: e\u0301, right-to-left: \u05e9\u05dc\u05d5\u05dd"
    document = BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n" \
        f"    description: \"{text}\"\n"
    spec = validate(document)
    assert spec.features["f1"].entry.description == text
    assert "e\u0301" in spec.features["f1"].entry.description  # not normalised to NFC


def test_one_megabyte_description_is_kept_intact() -> None:
    text = ("Ω≈ç√ line\n" * (1024 * 1024 // 10 + 1))[: 1024 * 1024]
    assert not text.endswith("\n")
    document = BASE + "features:\n  - name: f1\n    owner: growth\n    dtype: int\n" \
        "    description: |-\n" + "".join(f"      {line}\n" for line in text.split("\n"))
    spec = validate(document)
    assert spec.features["f1"].entry.description == text


@pytest.mark.parametrize("kind", ["teams", "sources", "features", "consumers"])
def test_description_over_the_limit_is_refused_with_the_limit(kind: str) -> None:
    fields = {"teams": "", "sources": "    owner: growth\n    kind: table\n",
              "features": "    owner: growth\n    dtype: int\n",
              "consumers": "    owner: growth\n    kind: model\n"}[kind]
    document = (f"teams:\n  - name: growth\n{kind}:\n  - name: thing\n{fields}"
                f"    description: {'x' * (MAX_DESCRIPTION_CHARS + 1)}\n")
    if kind == "teams":
        document = document.replace("teams:\n  - name: growth\nteams:\n", "teams:\n"
                                    "  - name: growth\n")
    (problem,) = problems_of((FILE, document))
    assert problem.file == FILE and problem.line == line_of(document, "description:")
    assert f"{MAX_DESCRIPTION_CHARS:,}" in problem.message
    assert f"{MAX_DESCRIPTION_CHARS + 1:,}" in problem.message


@pytest.mark.parametrize("name", ["a", "user_clicks_7d", "warehouse.clicks", "ctr-model",
                                  "A" + "b" * 127])
def test_allowed_names(name: str) -> None:
    assert NAME_RE.match(name)
    validate(f"teams:\n  - name: {name}\n")


@pytest.mark.parametrize("name", ["", "_x", "1x", "x y", "x/y", "é", "A" + "b" * 128, "x\n"])
def test_refused_names(name: str) -> None:
    problems = problems_of((FILE, f"teams:\n  - name: {json.dumps(name)}\n"))
    assert any("invalid name" in p.message for p in problems)


def test_empty_files_and_empty_sections_are_valid() -> None:
    spec = parse_documents([("empty.yaml", ""), ("sections.yaml", "teams:\nfeatures: []\n")])
    assert spec.is_empty()
