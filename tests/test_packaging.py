"""The wheel installs anywhere: built from this checkout, installed into a fresh virtualenv,
`featreg demo --no-serve` works in an empty directory, and no top-level `web` or `migrations`
package lands in the user's environment."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SHIPPED_FOLDERS = {"web": "featreg.web", "migrations": "featreg.migrations",
                   "seeds": "featreg.seeds"}


def _package_name(folder: Path) -> str:
    parts = folder.relative_to(ROOT).parts
    top = SHIPPED_FOLDERS.get(parts[0], parts[0])
    return ".".join((top, *parts[1:]))


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {_package_name(init.parent)
             for top in ("registry", *SHIPPED_FOLDERS)
             for init in (ROOT / top).rglob("__init__.py")
             if ".venv" not in init.parts}
    assert found - listed == set(), "package folders missing from pyproject's packages"
    assert listed - found == set(), "pyproject lists packages that do not exist"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {
        package: folder for folder, package in SHIPPED_FOLDERS.items()}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
         cwd=out)
    (built,) = out.glob("featreg-*.whl")
    return built


def test_the_wheel_ships_web_migrations_and_seeds_inside_the_project_namespace(
    wheel: Path,
) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("featreg-")}
    assert tops == {"registry", "featreg"}
    for needed in ("featreg/web/templates/base.html", "featreg/web/static/style.css",
                   "featreg/web/openapi.yaml", "featreg/migrations/env.py",
                   "featreg/migrations/script.py.mako", "featreg/seeds/demo.json",
                   "featreg/seeds/snapshot.parquet", "featreg/seeds/usage.jsonl",
                   "featreg/seeds/catalog/teams.yaml",
                   "registry/reports/templates/team.html.j2"):
        assert needed in names, needed
    versions = [n for n in names if n.startswith("featreg/migrations/versions/0")]
    assert len(versions) == len(list((ROOT / "migrations" / "versions").glob("0*.py")))


def test_the_installed_wheel_runs_the_demo_in_an_empty_directory(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEATREG_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    result = _run([str(venv / "bin" / "featreg"), "demo", "--no-serve"], cwd=empty, env=env)
    assert "demo: writing the weekly report" in result.stdout
    assert "admin token" in result.stdout and "frg_" in result.stdout
    with sqlite3.connect(empty / "featreg.db") as conn:
        features = conn.execute("SELECT count(*) FROM features").fetchone()[0]
        findings = conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    assert features > 0 and findings > 0
    probe = ("import importlib.util, sys; "
             "print([m for m in ('web', 'migrations', 'seeds') if importlib.util.find_spec(m)])")
    found = _run([str(python), "-c", probe], cwd=empty, env=env).stdout.strip()
    assert found == "[]", f"top-level packages installed by the wheel: {found}"
