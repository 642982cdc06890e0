"""`featreg plan` and `featreg apply` as whole processes (issue 15): they load what a plan or an
apply needs and nothing more, close the database as they exit, and the faster YAML reading
builds exactly what PyYAML builds. Behaviour, not timing."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from registry.catalog.spec import _LineMap, _load_yaml, load_spec
from registry.cli import main

PROGRAM = """
import atexit, json, sys
def report():
    models = sys.modules.get("registry.store.catalog_models")
    print(json.dumps({"modules": sorted(sys.modules),
                      "configured": models.Feature.__mapper__.configured if models else None}),
          file=sys.stderr)
atexit.register(report)
from registry.cli import main
main(sys.argv[1:])
"""

CATALOG = """\
teams:
  - {name: growth, contact: growth@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, freshness: 1d}
features:
  - {name: sessions_30d, owner: growth, dtype: float, sources: [warehouse.clicks],
     created: 2025-03-01, tags: [engagement], expect: {min: 0, max_null_fraction: 0.1}}
"""

NOT_NEEDED = ("alembic", "registry.catalog.search", "registry.evidence", "registry.read",
              "registry.findings", "registry.core.settings", "rich", "pandas", "numpy",
              "networkx", "flask", "registry.store.models")
"""Not loaded by plan or apply. The catalog's models are (`registry.store.catalog_models`),
the thirty other models of `registry.store.models` are not."""


def featreg(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "catalog.yaml").write_text(CATALOG)
    done, _ = featreg("--db", f"sqlite:///{tmp_path / 'f.db'}", "init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp_path


@pytest.mark.parametrize("verb", ["plan", "apply"])
def test_plan_and_apply_load_only_what_they_need(folder: Path, verb: str) -> None:
    done, seen = featreg("--db", f"sqlite:///{folder / 'f.db'}", verb, "specs", cwd=folder)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "3 to create, 0 to update, 0 to delete." in done.stdout
    modules = set(seen["modules"])  # type: ignore[arg-type]
    assert sorted(m for m in modules if m.startswith(NOT_NEEDED)) == []
    assert "registry.store.catalog_models" in modules
    assert seen["configured"] is False  # plain-column statements: no mapper configured


def test_apply_closes_the_database_as_the_process_exits(folder: Path) -> None:
    db = folder / "f.db"
    for spec in ("specs", "specs"):  # a first apply, then a no-op one
        done, _ = featreg("--db", f"sqlite:///{db}", "--actor", "ci", "apply", spec, cwd=folder)
        assert done.returncode == 0, done.stderr[-2000:]
    assert "No changes" in done.stdout
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("f.db")) == ["f.db"]
    bad = folder / "specs" / "bad.yaml"
    bad.write_text("features:\n  - {name: x, owner: nobody, dtype: int}\n")
    done, _ = featreg("--db", f"sqlite:///{db}", "apply", "specs", cwd=folder)
    assert done.returncode == 1 and "bad.yaml:2" in done.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("f.db")) == ["f.db"]


def test_plan_in_process_gives_the_garbage_collector_back(folder: Path) -> None:
    assert gc.isenabled()
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{folder / 'f.db'}", "plan",
                                       str(folder / "specs")])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()


DOCUMENTS = [
    "a: 1\nb: [1, 2.5, true, null, ~, 2025-03-01, '2025-03-01', x, '', 0x1F, 1_000, .inf]\n",
    "<<: {x: 1, y: 2}\nz: 3\n",
    "m:\n  <<: [{a: 1}, {b: 2}]\n  c: 3\n",
    "=: v\nk: 1\n",
    "t: !!str 123\nu: !!int '7'\nw: !!binary aGVsbG8=\nk: 2001-12-14t21:59:43.10-05:00\n",
    "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\np: !!pairs [{a: 1}]\n",
    "- a\n- b: 1\n  c: [x, {d: e}]\n",
    "a: 'quoted: yes'\nb: \"dq\"\nc: |\n  block\n  text\nd: >\n  folded\n",
    "1: one\n2.5: two\nnull: three\nfalse: four\n",
    CATALOG,
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_spec_yaml_builds_what_pyyaml_builds(text: str) -> None:
    data, duplicates = _load_yaml(text)
    assert data == yaml.safe_load(text)
    assert duplicates == []


def test_spec_yaml_keeps_lines_and_every_duplicate_key() -> None:
    data, duplicates = _load_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert isinstance(data, _LineMap) and isinstance(data["b"], _LineMap)
    assert (data.line, data.key_lines, data["b"].line, data["b"].key_lines) == (
        1, {"a": 1, "b": 2}, 3, {"c": 3})
    assert duplicates == [("duplicate key 'c'", 4), ("duplicate key 'a'", 5)]


@pytest.mark.parametrize("text", ["base: &b {x: 1}\nc: *b\n", "a: &s hello\nb: *s\n",
                                  "a: &l [1]\nb: [*l]\n", "m: &m {k: v}\nn: {<<: *m}\n"])
def test_spec_yaml_still_refuses_aliases(text: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="anchors and aliases"):
        _load_yaml(text)


def test_a_deeply_nested_value_is_a_validation_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text(
        "features:\n  - {name: f, owner: growth, dtype: int, tags: " + "[" * 400 + "]" * 400
        + "}\n")
    spec = load_spec([tmp_path], defer=True)
    assert [p.line for p in spec.problems] == [2]
    assert "tags" in spec.problems[0].message
