"""`featreg` starts without loading what a command does not need: the database layer, pandas,
Flask (issue 15). Behaviour, not timing: each run is a real process whose loaded modules are
listed as it exits."""

from __future__ import annotations

import csv
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import registry.cli
from registry.cli import COMMANDS, main

HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "flask", "pydantic", "yaml")
DATABASE = ("sqlalchemy", "alembic", "psycopg", "registry.store")

PROGRAM = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
from registry.cli import main
main(sys.argv[1:])
"""


def run_featreg(*args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                             set[str]]:
    """Run `featreg ARGS` in a fresh interpreter; its output and the modules it loaded."""
    done = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    return done, modules


def loaded(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in roots or m.startswith(roots))


@pytest.mark.parametrize("args", [
    ["--version"],
    ["--help"],
    ["apply", "--help"],
    ["snapshot", "--help"],
    ["snapshot", "correlate", "--help"],
    ["usage", "ingest", "--help"],
    ["token", "--help"],
    ["serve", "--help"],
])
def test_version_and_help_load_no_heavy_library(args: list[str]) -> None:
    done, modules = run_featreg(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert loaded(modules, HEAVY) == []


def test_help_lists_built_in_and_plugin_commands() -> None:
    done, _ = run_featreg("--help")
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines()
              if line.strip()}
    assert set(COMMANDS) <= listed
    assert {"serve", "demo"} <= listed  # the web package's entry point, loaded lazily


def test_snapshot_correlate_does_not_load_the_database_layer(tmp_path: Path) -> None:
    path = tmp_path / "sample.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c"])
        writer.writerows([i, 2 * i + 1, (i * 7919) % 13] for i in range(50))
    done, modules = run_featreg("snapshot", "correlate", str(path), "--format", "json",
                                cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    pairs = json.loads(done.stdout)
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b")]
    assert loaded(modules, DATABASE) == []
    assert not (tmp_path / "featreg.db").exists()


def test_commands_table_names_every_command_of_every_command_module() -> None:
    for info in pkgutil.iter_modules(registry.cli.__path__):
        if info.name.endswith("_commands"):
            importlib.import_module(f"registry.cli.{info.name}")
    built_in = {name for name, command in main.commands.items()
                if (command.callback is not None
                    and command.callback.__module__.startswith("registry.cli."))}
    assert built_in == set(COMMANDS)
    for name, module in COMMANDS.items():
        callback = main.commands[name].callback
        assert callback is not None
        assert callback.__module__ == module, name


def test_unknown_command_is_a_usage_error() -> None:
    done, modules = run_featreg("no-such-command")
    assert done.returncode == 2
    assert "No such command 'no-such-command'" in done.stderr
    assert loaded(modules, DATABASE) == []


def test_apply_of_a_small_spec_loads_neither_alembic_nor_numpy(tmp_path: Path) -> None:
    """The schema check is one SELECT against `SCHEMA_REVISION` (no Alembic); a spec without
    `depends_on` needs no graph library; applying needs no search index (numpy)."""
    url = f"sqlite:///{tmp_path / 'featreg.db'}"
    init, _ = run_featreg("--db", url, "init")
    assert init.returncode == 0, init.stderr[-2000:]
    spec = tmp_path / "spec.yaml"
    spec.write_text("teams:\n  - {name: growth}\nsources:\n"
                    "  - {name: warehouse.clicks, kind: table, owner: growth}\nfeatures:\n"
                    "  - {name: clicks_7d, owner: growth, dtype: int,\n"
                    "     sources: [warehouse.clicks]}\n")
    done, modules = run_featreg("--db", url, "apply", str(spec))
    assert done.returncode == 0 and "Applied as change set" in done.stdout, done.stderr[-2000:]
    assert loaded(modules, ("alembic", "networkx", "numpy", "pandas")) == []
    again, _ = run_featreg("--db", url, "apply", str(spec))
    assert "already matches" in again.stdout


def test_plan_and_apply_into_a_pipe_print_plain_text_without_rich(tmp_path: Path) -> None:
    """Into a pipe (CI logs, scripts) plan and apply write plain, unwrapped lines and never
    load rich: a tenth of a small apply's whole time. An error still prints through rich."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    long_name = "f_" + "x" * 120  # longer than rich's 80 columns: not wrapped
    spec = tmp_path / "catalog.yaml"
    spec.write_text("teams:\n  - name: growth\nfeatures:\n"
                    f"  - name: {long_name}\n    owner: growth\n    dtype: float\n"
                    "    description: '[red]not markup[/red]'\n")
    done, _ = run_featreg("--db", url, "init")
    assert done.returncode == 0, done.stderr[-2000:]
    for command in ("plan", "apply"):
        done, modules = run_featreg("--db", url, command, str(spec))
        assert done.returncode == 0, done.stderr[-2000:]
        assert loaded(modules, ("rich",)) == []
        assert f"+ feature {long_name}\n" in done.stdout
        assert "2 to create, 0 to update, 0 to delete." in done.stdout
    assert "Applied as change set 1." in done.stdout
    spec.write_text(spec.read_text().replace("'[red]not markup[/red]'", "'[b]edited[/b]'"))
    done, _ = run_featreg("--db", url, "plan", str(spec))
    assert "    description: [red]not markup[/red] -> [b]edited[/b]\n" in done.stdout
    done, modules = run_featreg("--db", url, "apply", str(tmp_path / "missing.yaml"))
    assert done.returncode == 1 and "no such file or folder" in done.stderr
    assert "rich.console" in modules
