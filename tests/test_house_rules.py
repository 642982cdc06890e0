"""The rules of the house (DESIGN.md "Architecture"), checked on the source:

- `registry` never imports the web app;
- the web app never imports the SDK;
- nothing under `registry/analysis` imports SQLAlchemy or the store, directly or through
  another Featreg module;
- services never commit: only entry points (the CLI, the SDK, scheduled jobs, the web app)
  open a unit of work;
- `registry/` keeps few top-level modules: capabilities live in packages.

Each checker is also run on a small piece of code that breaks its rule, so a checker that
stopped seeing violations would fail here too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = ("catalog", "evidence", "analysis", "findings", "reports", "read")
TOP_LEVEL_LIMIT = 10


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "web":
        parts = ["featreg", *parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(*tops: str) -> list[Module]:
    found = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            found.append(Module(_module_name(path), path, ast.parse(path.read_text("utf-8"))))
    return found


def imported(module: Module) -> Iterator[tuple[str, int]]:
    """Every module name an import statement anywhere in the module names (function-level
    imports included), with relative imports resolved, and its line."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:  # `from registry.sdk import client` names a module too
                yield f"{base}.{alias.name}", node.lineno


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations_of_imports(mods: list[Module], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{m.path.relative_to(ROOT)}:{line} imports {name}"
            for m in mods for name, line in imported(m)
            if any(_within(name, prefix) for prefix in forbidden)]


def reachable(start: list[Module], everything: list[Module]) -> dict[str, str]:
    """Featreg modules reachable from `start` by imports: name -> the module that imports it."""
    by_name = {m.name: m for m in everything}
    seen: dict[str, str] = {m.name: m.name for m in start}
    todo = list(start)
    while todo:
        module = todo.pop()
        for name, _line in imported(module):
            target = by_name.get(name)
            if target is not None and target.name not in seen:
                seen[target.name] = module.name
                todo.append(target)
            elif target is None and name not in seen:
                seen.setdefault(name, module.name)
    return seen


def commits(mods: list[Module]) -> list[str]:
    """Calls that end or open a unit of work: `.commit()`, `session_scope(...)`, or a
    `sessionmaker` parameter (a service that makes its own sessions)."""
    found = []
    for m in mods:
        for node in ast.walk(m.tree):
            where = f"{m.path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("commit", "session_scope"):
                    found.append(f"{where} calls {name}()")
            elif isinstance(node, ast.arg) and node.annotation is not None:
                if "sessionmaker" in ast.unparse(node.annotation):
                    found.append(f"{where} takes a sessionmaker ({node.arg})")
    return found


def _snippet(name: str, code: str) -> list[Module]:
    return [Module(name, ROOT / (name.replace(".", "/") + ".py"), ast.parse(code))]


# -- the rules on the real code --------------------------------------------------------------


def test_registry_never_imports_the_web_app() -> None:
    assert violations_of_imports(modules("registry"), ("web", "featreg.web")) == []


def test_the_web_app_never_imports_the_sdk() -> None:
    assert violations_of_imports(modules("web"), ("registry.sdk", "registry.connect")) == []


def test_the_web_app_imports_its_own_modules_under_the_project_namespace() -> None:
    # `import web` would load a second copy of the app from a checkout, or fail when installed
    assert violations_of_imports(modules("web", "registry", "tests", "benchmarks"),
                                 ("web",)) == []


def test_analysis_never_reaches_sqlalchemy_or_the_store() -> None:
    everything = modules("registry")
    analysis = [m for m in everything if _within(m.name, "registry.analysis")]
    assert analysis, "registry/analysis has no modules?"
    reached = reachable(analysis, everything)
    bad = {name: via for name, via in reached.items()
           if _within(name, "sqlalchemy") or _within(name, "registry.store")}
    assert bad == {}, f"reached from registry/analysis (module: imported by): {bad}"


def test_services_never_commit() -> None:
    services = [m for m in modules("registry")
                if m.name.split(".")[1:2] and m.name.split(".")[1] in SERVICE_PACKAGES]
    assert len(services) > 20
    assert commits(services) == []


def test_registry_keeps_few_top_level_modules() -> None:
    top = sorted(p.name for p in (ROOT / "registry").glob("*.py"))
    assert len(top) <= TOP_LEVEL_LIMIT, top


# -- the checkers catch what they are meant to catch ----------------------------------------


def test_the_import_checker_sees_absolute_relative_and_late_imports() -> None:
    code = ("import os\nfrom .support import db\n"
            "def f():\n    from registry.sdk import client\n    import web.cli\n")
    mods = _snippet("featreg.web.views", code)
    assert {n for n, _ in imported(mods[0])} >= {
        "featreg.web.support", "registry.sdk.client", "web.cli", "os"}
    assert len(violations_of_imports(mods, ("registry.sdk",))) == 2  # module and its member
    assert violations_of_imports(mods, ("web",)) == ["featreg/web/views.py:5 imports web.cli"]


def test_the_reachability_check_follows_imports_through_other_modules() -> None:
    mods = (_snippet("registry.analysis.a", "from registry.core import helper\n")
            + _snippet("registry.core.helper", "import sqlalchemy.orm\n"))
    reached = reachable(mods[:1], mods)
    assert reached["sqlalchemy.orm"] == "registry.core.helper"


def test_the_commit_checker_sees_commits_scopes_and_sessionmakers() -> None:
    code = ("def a(session):\n    session.commit()\n"
            "def b(factory):\n    with session_scope(factory) as s: pass\n"
            "def c(sessions: sessionmaker[Session]): pass\n"
            "def d(session):\n    with session.begin_nested(): pass\n")
    found = commits(_snippet("registry.catalog.bad", code))
    assert sorted(f.split(" ", 1)[1] for f in found) == [
        "calls commit()", "calls session_scope()", "takes a sessionmaker (sessions)"]
