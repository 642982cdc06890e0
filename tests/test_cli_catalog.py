"""The `featreg` catalog commands end to end (in-process), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import Cli
from test_apply import dump_database

import registry.cli
from registry.catalog import lineage
from registry.cli import main as cli_main
from registry.store.db import dispose_engine, session_factory, session_scope

CATALOG = """\
teams:
  - {name: growth, contact: growth@example.com}
  - {name: ads, contact: ads@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth, description: Raw click log}
  - {name: ctr_model.scores, kind: model_output, owner: ads, produced_by: ctr_model}
features:
  - name: user_clicks_7d
    owner: growth
    dtype: int
    description: "Clicks by the user in the last 7 days."
    sources: [warehouse.clicks]
    tags: [engagement]
  - name: user_ctr_7d
    owner: growth
    dtype: float
    description: "Click-through rate over 7 days."
    depends_on: [user_clicks_7d]
  - name: ctr_score
    owner: ads
    dtype: float
    sources: [ctr_model.scores]
consumers:
  - name: ctr_model
    kind: model
    owner: ads
    features: [user_clicks_7d, user_ctr_7d]
    produces: [ctr_model.scores]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def applied(cli: Cli, tmp_path: Path) -> Path:
    path = write(tmp_path, "catalog.yaml", CATALOG)
    ok(cli("apply", str(path)))
    return path


def test_init_builds_a_fresh_database_and_can_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    try:
        fresh = Cli(url)
        assert "Schema is up to date" in ok(fresh("init")).output
        ok(fresh("init"))
        assert as_json(fresh("features", "--format", "json")) == []
    finally:
        dispose_engine(url)


@pytest.mark.parametrize("command", [["features"], ["apply", "{spec}"], ["plan", "{spec}"],
                                     ["history"], ["lineage", "x"],
                                     ["deprecate", "x", "--sunset", "2030-01-01"]])
def test_a_command_on_an_unmigrated_database_names_featreg_init(
        tmp_path: Path, command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    spec = write(tmp_path, "x.yaml", "teams: []\n")
    args = [arg.format(spec=spec) for arg in command]
    try:
        result = CliRunner().invoke(cli_main, ["--db", url, *args], catch_exceptions=False)
    finally:
        dispose_engine(url)
    assert result.exit_code == 1
    assert "featreg init" in result.output


def test_apply_then_plan_shows_field_by_field_changes_and_writes_nothing(
        cli: Cli, db_url: str, applied: Path) -> None:
    edited = write(applied.parent, "edited.yaml", CATALOG.replace(
        "  - name: user_ctr_7d\n    owner: growth", "  - name: user_ctr_7d\n    owner: ads"))
    before = dump_database(db_url)
    output = ok(cli("plan", str(edited))).output
    assert "~ feature user_ctr_7d" in output
    assert "    owner: growth -> ads" in output
    assert "0 to create, 1 to update, 0 to delete." in output
    assert dump_database(db_url) == before
    assert "owner: growth -> ads" in ok(cli("apply", str(edited))).output
    assert as_json(cli("show", "user_ctr_7d", "--format", "json"))["owner"] == "ads"


def test_reapplying_reports_no_changes_and_writes_nothing(cli: Cli, db_url: str,
                                                          applied: Path) -> None:
    before = dump_database(db_url)
    assert "No changes" in ok(cli("apply", str(applied))).output
    assert "No changes" in ok(cli("apply", "--prune", str(applied))).output
    ok(cli("init"))  # on a migrated database, a no-op
    assert dump_database(db_url) == before


def test_prune_plans_and_applies_deletions(cli: Cli, applied: Path) -> None:
    smaller = write(applied.parent, "smaller.yaml", CATALOG.replace(
        "  - name: ctr_score\n    owner: ads\n    dtype: float\n    sources: [ctr_model.scores]\n",
        ""))
    assert "No changes" in ok(cli("plan", str(smaller))).output  # incremental: nothing to do
    planned = ok(cli("plan", "--prune", str(smaller))).output
    assert "- feature ctr_score" in planned and "1 to delete" in planned
    assert "ctr_score" in [f["name"] for f in as_json(cli("features", "--format", "json"))]
    ok(cli("apply", "--prune", str(smaller)))
    assert "ctr_score" not in [f["name"] for f in as_json(cli("features", "--format", "json"))]


def test_apply_takes_folders_of_files_that_reference_each_other(cli: Cli,
                                                                tmp_path: Path) -> None:
    teams, rest = CATALOG.split("sources:\n", 1)
    write(tmp_path / "repo" / "teams", "teams.yaml", teams)
    write(tmp_path / "repo" / "catalog", "rest.yml", "sources:\n" + rest)
    write(tmp_path / "repo", "README.md", "not yaml: ignored")
    assert "8 to create" in ok(cli("apply", str(tmp_path / "repo"))).output


INVALID_DOCUMENTS = [  # (document, text on the line to be named, words of the message)
    (CATALOG.replace("dtype: int", "dtype: integer"), "dtype: integer", "dtype"),
    (CATALOG.replace("owner: ads\n    features", "owner: nobody\n    features"),
     "owner: nobody", "unknown team 'nobody'"),
    (CATALOG.replace("    tags: [engagement]\n",
                     "    tags: [engagement]\n    depends_on: [user_ctr_7d]\n"),
     "depends_on: [user_ctr_7d]", "depends_on cycle"),
    (CATALOG.replace("description: Raw click log}", "description: Raw click log"),
     None, "malformed YAML"),
]


def test_invalid_input_exits_1_naming_file_and_line_and_applies_nothing(
        cli: Cli, db_url: str, tmp_path: Path) -> None:
    before = dump_database(db_url)
    for document, needle, words in INVALID_DOCUMENTS:
        path = write(tmp_path, "bad.yaml", document)
        for command in ("plan", "apply"):
            result = cli(command, str(path))
            assert result.exit_code == 1, result.output
            assert words in result.output and "nothing applied" in result.output
            line = line_of(document, needle) if needle else ""
            assert f"{path}:{line}" in result.output, (words, result.output)
    assert dump_database(db_url) == before


def test_field_and_reference_problems_are_reported_in_one_pass(sqlite_url: str,
                                                              tmp_path: Path) -> None:
    cli = Cli(sqlite_url)
    document = CATALOG.replace("dtype: int", "dtype: integer").replace(
        "owner: ads\n    features", "owner: nobody\n    features")
    result = cli("apply", str(write(tmp_path, "bad.yaml", document)))
    assert result.exit_code == 1
    assert f"bad.yaml:{line_of(document, 'dtype: integer')}:" in result.output
    assert f"bad.yaml:{line_of(document, 'owner: nobody')}:" in result.output


def test_a_missing_path_is_invalid_input(sqlite_url: str, tmp_path: Path) -> None:
    result = Cli(sqlite_url)("apply", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


USAGE_ERRORS = [
    ["apply"], ["plan"], ["deprecate", "user_clicks_7d"],
    ["deprecate", "user_clicks_7d", "--sunset", "31/12/2030"],
    ["lineage", "user_clicks_7d", "--depth", "0"], ["features", "--status", "gone"],
    ["no-such-command"], ["show"], ["history", "--limit", "many"],
]


def test_usage_errors_exit_2(sqlite_url: str) -> None:
    cli = Cli(sqlite_url)
    assert {" ".join(args): cli(*args).exit_code for args in USAGE_ERRORS} == {
        " ".join(args): 2 for args in USAGE_ERRORS}


def test_features_filters(cli: Cli, applied: Path) -> None:
    def names(*args: str) -> list[str]:
        return [f["name"] for f in as_json(cli("features", "--format", "json", *args))]

    assert names() == ["ctr_score", "user_clicks_7d", "user_ctr_7d"]
    assert names("--owner", "growth") == ["user_clicks_7d", "user_ctr_7d"]
    assert names("--search", "CLICK") == ["user_clicks_7d", "user_ctr_7d"]
    assert names("--search", "engagement") == ["user_clicks_7d"]
    assert names("--search", "through rate") == ["user_ctr_7d"]
    assert names("--status", "deprecated") == []
    ok(cli("deprecate", "ctr_score", "--sunset", "2030-01-31"))
    assert names("--status", "deprecated") == ["ctr_score"]
    assert names("--status", "active", "--owner", "ads") == []
    table = ok(cli("features", "--owner", "growth")).output
    assert "user_ctr_7d" in table and "ctr_score" not in table and "2 features" in table


def test_show_gives_fields_upstream_and_downstream(cli: Cli, applied: Path) -> None:
    shown = as_json(cli("show", "user_clicks_7d", "--format", "json"))
    assert shown["type"] == "feature" and shown["owner"] == "growth"
    assert {(n["type"], n["name"]) for n in shown["upstream"]} == {("source", "warehouse.clicks")}
    assert {(n["type"], n["name"]) for n in shown["downstream"]} == {
        ("feature", "user_ctr_7d"), ("consumer", "ctr_model")}
    source = as_json(cli("show", "ctr_model.scores", "--format", "json"))
    assert source["produced_by"] == "ctr_model"
    assert as_json(cli("show", "growth", "--format", "json"))["type"] == "team"
    text = ok(cli("show", "user_clicks_7d")).output
    assert "feature user_clicks_7d" in text and "Clicks by the user" in text
    missing = cli("show", "nothing_here")
    assert missing.exit_code == 1 and "nothing_here" in missing.output


def test_lineage_and_impact_commands_match_the_service(cli: Cli, db_url: str,
                                                       applied: Path) -> None:
    with session_scope(session_factory(db_url)) as session:
        up = lineage.lineage(session, "ctr_model", downstream=False, depth=1)
        down = lineage.lineage(session, "warehouse.clicks", downstream=True)
        impact = lineage.impact(session, "ctr_model.scores")
    assert as_json(cli("lineage", "ctr_model", "--upstream", "--depth", "1", "--format",
                       "json")) == [n.to_dict() for n in up]
    assert as_json(cli("lineage", "warehouse.clicks", "--format", "json")) == [
        n.to_dict() for n in down]
    assert as_json(cli("impact", "ctr_model.scores", "--format", "json")) == [
        n.to_dict() for n in impact]
    assert {n.name for n in impact} == {"ctr_score"}
    assert f"{len(down)} nodes" in ok(cli("lineage", "warehouse.clicks")).output
    assert cli("impact", "user_clicks_7d").exit_code == 1  # a feature is not a source


def history(cli: Cli, *args: str) -> list[dict[str, Any]]:
    return as_json(cli("history", *args, "--format", "json"))  # type: ignore[no-any-return]


def test_lifecycle_commands_are_audited(cli: Cli, applied: Path) -> None:
    ok(cli("deprecate", "user_clicks_7d", "--sunset", "2030-01-31", "--replacement",
           "user_ctr_7d", "--reason", "noisy"))
    shown = as_json(cli("show", "user_clicks_7d", "--format", "json"))
    assert (shown["status"], shown["sunset"], shown["replacement"], shown["reason"]) == (
        "deprecated", "2030-01-31", "user_ctr_7d", "noisy")
    assert "No changes" in ok(cli("apply", str(applied))).output  # the file omits status
    ok(cli("undeprecate", "user_clicks_7d"))
    ok(cli("retire", "user_clicks_7d", "--reason", "unused"))
    assert as_json(cli("show", "user_clicks_7d", "--format", "json"))["status"] == "retired"
    updates = [e for e in reversed(history(cli, "user_clicks_7d")) if e["action"] == "update"]
    assert [(e["before"]["status"], e["after"]["status"]) for e in updates] == [
        ("active", "deprecated"), ("deprecated", "active"), ("active", "retired")]
    assert updates[0]["after"] == {"status": "deprecated", "sunset": "2030-01-31",
                                   "replacement": "user_ctr_7d", "reason": "noisy"}
    assert {e["actor"] for e in updates} == {"tester"}
    assert len({e["changeset"] for e in updates}) == 3
    unknown = cli("deprecate", "ghost", "--sunset", "2030-01-31")
    assert unknown.exit_code == 1 and "ghost" in unknown.output


def test_history_shows_before_and_after_of_each_field(cli: Cli, applied: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.cli.out, "width", 200)  # no wrapping inside table cells
    edited = write(applied.parent, "edited.yaml", CATALOG.replace(
        "  - name: user_ctr_7d\n    owner: growth\n    dtype: float",
        "  - name: user_ctr_7d\n    owner: ads\n    dtype: int"))
    ok(cli("apply", str(edited)))
    events = history(cli, "user_ctr_7d")
    assert [e["action"] for e in events] == ["update", "create"]
    assert events[0]["before"] == {"owner": "growth", "dtype": "float"}
    assert events[0]["after"] == {"owner": "ads", "dtype": "int"}
    assert events[1]["before"] is None and events[1]["after"]["owner"] == "growth"
    table = ok(cli("history", "user_ctr_7d")).output
    assert "owner: growth -> ads" in table and "dtype: float -> int" in table
    assert len(history(cli)) == 9  # 8 creates + 1 update, every object


def test_the_actor_comes_from_the_option_or_the_environment(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    path = write(tmp_path, "catalog.yaml", CATALOG)

    def run(*args: str, env: dict[str, str]) -> None:
        result = runner.invoke(cli_main, ["--db", db_url, *args], env=env,
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("apply", str(path), env={"FEATREG_ACTOR": "ci-bot"})
    run("--actor", "alice", "deprecate", "ctr_score", "--sunset", "2030-01-01",
        env={"FEATREG_ACTOR": "ci-bot"})
    events = history(Cli(db_url), "ctr_score")
    assert [(e["action"], e["actor"]) for e in events] == [("update", "alice"),
                                                           ("create", "ci-bot")]
