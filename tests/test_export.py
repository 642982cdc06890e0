"""`featreg export` writes YAML that `apply` reads back to the same catalog, on SQLite and on
PostgreSQL, and moves a catalog from one database to the other."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import Cli

from registry.catalog import service as catalog
from registry.catalog.spec import load_spec
from registry.catalog.state import load_state
from registry.store.db import session_factory, session_scope


def _state(url: str) -> dict[str, object]:
    with session_scope(session_factory(url)) as session:
        state = load_state(session)
    return {kind: state.of(kind) for kind in ("teams", "sources", "features", "consumers")}


def test_export_round_trips_the_demo_catalog(cli: Cli, seeds_dir: Path, tmp_path: Path,
                                              sqlite_url: str) -> None:
    assert cli("apply", str(seeds_dir / "catalog")).exit_code == 0
    cli("deprecate", sorted(_state(cli.url)["features"])[0], "--sunset", "2030-01-01")
    out = tmp_path / "export"
    result = cli("export", "--out", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert "teams.yaml" in files and len(files) > 2
    with session_scope(session_factory(cli.url)) as session:
        again = catalog.plan_spec(session, load_spec([out]), prune=True)
        assert again.changes == [], [(c.action, c.name, c.changes) for c in again.changes[:5]]
    # into another database (the PostgreSQL run moves it from PostgreSQL to SQLite)
    target = Cli(sqlite_url)
    assert target("apply", str(out)).exit_code == 0
    assert _state(sqlite_url) == _state(cli.url)
    single = yaml.safe_load(cli("export").stdout)
    assert sorted(single) == ["consumers", "features", "sources", "teams"]
    assert {f["name"] for f in single["features"]} == set(_state(cli.url)["features"])


def test_export_of_hostile_names_stays_valid_yaml(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text('teams:\n  - {name: "etc..", description: "a: b\\n- c"}\n'
                    '  - {name: "teams"}\n'
                    'features:\n  - {name: "x.y", owner: "etc..", dtype: int, '
                    'description: "# not a comment\\n---\\n{a: [b"}\n'
                    '  - {name: z, owner: teams, dtype: int}\n')
    assert cli("apply", str(spec)).exit_code == 0, cli("apply", str(spec)).output
    out = tmp_path / "out"
    assert cli("export", "--out", str(out)).exit_code == 0
    assert all(p.parent == out for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == ["etc.yaml", "teams-2.yaml", "teams.yaml"]
    with session_scope(session_factory(cli.url)) as session:
        assert catalog.plan_spec(session, load_spec([out]), prune=True).changes == []
