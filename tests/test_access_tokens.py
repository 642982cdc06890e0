"""API tokens through the CLI and the access service: printed once, stored as a hash, listed
without the secret, revoked, and the team-scope checks of registry.access.permissions."""

from __future__ import annotations

import json

import pytest
from conftest import Cli
from sqlalchemy import select

from registry.access import permissions
from registry.access.tokens import Identity, authenticate, hash_secret
from registry.catalog import service as catalog
from registry.catalog.spec import parse_documents
from registry.core.errors import Forbidden, Unauthenticated
from registry.store import models as m
from registry.store.db import session_factory, session_scope

SPEC = """\
teams:
  - {name: growth}
  - {name: ads}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth}
features:
  - {name: user_clicks_7d, owner: growth, dtype: int, sources: [warehouse.clicks]}
  - {name: ad_ctr, owner: ads, dtype: float}
consumers:
  - {name: ctr_model, kind: model, owner: ads, features: [user_clicks_7d, ad_ctr]}
  - {name: growth_job, kind: job, owner: growth, features: [user_clicks_7d]}
"""

GROWTH = Identity("ci", "growth")
ADMIN = Identity("root", "growth", admin=True)


@pytest.fixture
def catalog_cli(cli: Cli, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert cli("apply", str(tmp_path / "spec.yaml")).exit_code == 0
    return cli


def test_a_token_is_printed_once_and_stored_only_as_a_hash(catalog_cli: Cli) -> None:
    created = catalog_cli("token", "create", "--team", "growth", "--name", "ci")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("frg_") and len(secret) > 40
    with session_scope(session_factory(catalog_cli.url)) as session:
        row = session.scalars(select(m.ApiToken)).one()
        assert row.secret_hash == hash_secret(secret) and secret not in (row.prefix, row.name)
        assert secret.startswith(row.prefix) and len(row.prefix) < len(secret) // 3
        identity = authenticate(session, secret)
        assert (identity.name, identity.team, identity.admin) == ("ci", "growth", False)
        assert identity.actor == "growth/ci"
        assert row.last_used_at is not None
    listed = json.loads(catalog_cli("token", "list", "--format", "json").stdout)
    assert [(t["name"], t["team"], t["status"]) for t in listed] == [("ci", "growth", "active")]
    assert secret not in catalog_cli("token", "list").stdout


def test_bad_token_requests_fail_with_a_reason_and_store_nothing(catalog_cli: Cli) -> None:
    catalog_cli("token", "create", "--team", "growth", "--name", "ci")
    again = catalog_cli("token", "create", "--team", "growth", "--name", "ci")
    assert again.exit_code == 1 and "exists already" in again.output
    ghost = catalog_cli("token", "create", "--team", "nobody", "--name", "x")
    assert ghost.exit_code == 1 and "no team named 'nobody'" in ghost.output
    control = catalog_cli("token", "create", "--team", "growth", "--name", "a\x00b")
    assert control.exit_code == 1 and "control characters" in control.output
    assert catalog_cli("token", "revoke", "nope").exit_code == 1
    listed = json.loads(catalog_cli("token", "list", "--format", "json").stdout)
    assert [t["name"] for t in listed] == ["ci"]


def test_a_revoked_token_is_refused_and_an_unknown_one_is_unauthenticated(
    catalog_cli: Cli,
) -> None:
    secret = catalog_cli("token", "create", "--team", "ads", "--name", "a", "--admin"
                         ).stdout.strip().splitlines()[-1]
    assert catalog_cli("token", "revoke", "a").exit_code == 0
    sessions = session_factory(catalog_cli.url)
    with session_scope(sessions) as session, pytest.raises(Forbidden, match="revoked"):
        authenticate(session, secret)
    for bad in ("frg_" + "x" * 43, "not-a-token", "frg_" + "y" * 1000):
        with session_scope(sessions) as session, pytest.raises(Unauthenticated):
            authenticate(session, bad)


def test_a_team_may_plan_changes_only_to_its_own_objects(catalog_cli: Cli) -> None:
    with session_scope(session_factory(catalog_cli.url)) as session:
        def plan(yaml: str, prune: bool = False):  # type: ignore[no-untyped-def]
            return catalog.plan_spec(session, parse_documents([("s.yaml", yaml)]), prune=prune)

        own = plan("features:\n  - {name: user_clicks_7d, owner: growth, dtype: float}\n")
        permissions.check_plan(GROWTH, own)
        theirs = plan("features:\n  - {name: ad_ctr, owner: ads, dtype: int}\n")
        with pytest.raises(Forbidden, match="feature 'ad_ctr' belongs to team 'ads'"):
            permissions.check_plan(GROWTH, theirs)
        taken = plan("features:\n  - {name: ad_ctr, owner: growth, dtype: float}\n")
        with pytest.raises(Forbidden):  # taking another team's object is changing it
            permissions.check_plan(GROWTH, taken)
        wipe = plan("teams: []\n", prune=True)
        with pytest.raises(Forbidden):
            permissions.check_plan(GROWTH, wipe)
        permissions.check_plan(ADMIN, wipe)
        new_team = plan("teams:\n  - {name: newcomers}\n")
        with pytest.raises(Forbidden, match="needs an admin token"):
            permissions.check_plan(GROWTH, new_team)


def test_usage_lineage_and_findings_are_scoped_to_the_team(catalog_cli: Cli) -> None:
    with session_scope(session_factory(catalog_cli.url)) as session:
        permissions.check_consumers(session, GROWTH, ["growth_job"])
        with pytest.raises(Forbidden, match="team 'ads'"):
            permissions.check_consumers(session, GROWTH, ["growth_job", "ctr_model"])
        with pytest.raises(Forbidden, match="not registered"):
            permissions.check_consumers(session, GROWTH, ["adhoc_notebook"])
        permissions.check_consumers(session, ADMIN, ["ctr_model", "adhoc_notebook"])
        permissions.check_openlineage_jobs(session, GROWTH, ["growth_job", "unregistered"])
        with pytest.raises(Forbidden):
            permissions.check_openlineage_jobs(session, GROWTH, ["ctr_model"])
        permissions.check_owned(session, GROWTH, "feature", "user_clicks_7d")
        with pytest.raises(Forbidden):
            permissions.check_owned(session, GROWTH, "feature", "ad_ctr")
        finding = m.Finding(subject_type="feature", subject_name="ad_ctr")
        with pytest.raises(Forbidden):
            permissions.check_finding(session, GROWTH, finding)
        permissions.check_finding(session, Identity("x", "ads"), finding)
    with pytest.raises(Unauthenticated):
        permissions.require(None)
