"""Findings people act on (issue 13): the detail page reads as sentences and tables and draws
loops and clusters, the list is a sortable table with bulk actions (form and API), members of
a loop or cluster show it, and the actions a finding suggests are ready to paste or click."""

from __future__ import annotations

import re
import uuid
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from conftest import Cli, authorize
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from web_catalog import SLASH_PRINCIPAL, XSS_PRINCIPAL, finding_id

from registry.access.tokens import create_token
from registry.findings.explain import SENTENCES, explain_sentence
from registry.read.finding_evidence import evidence_layout
from registry.store import models as m
from registry.store.db import session_factory, session_scope


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return authorize(app.test_client(), app.config["DATABASE_URL"])  # type: ignore[no-any-return]


def _ok(web: FlaskClient, url: str) -> str:
    response = web.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _main_text(html: str) -> str:
    main = html[html.index("<main>"):html.index("</main>")]
    main = re.sub(r"<svg.*?</svg>", "", main, flags=re.DOTALL)
    return unescape(re.sub(r"<[^>]+>", " ", main))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _findings(url: str) -> list[m.Finding]:
    with session_scope(session_factory(url)) as session:
        rows = list(session.scalars(select(m.Finding).order_by(m.Finding.id)))
        session.expunge_all()
    return rows


def _team_token(url: str, team: str) -> str:
    with session_scope(session_factory(url)) as session:
        _row, secret = create_token(session, name=f"{team}-{uuid.uuid4().hex[:6]}", team=team,
                                    admin=False, created_by="tests")
    return secret


# ----- the detail page -------------------------------------------------------------------------


def test_every_detail_page_reads_as_sentences_and_tables(web: FlaskClient,
                                                         catalog_url: str) -> None:
    kinds_seen = set()
    for finding in _findings(catalog_url):
        if finding.kind in kinds_seen:
            continue
        kinds_seen.add(finding.kind)
        html = _ok(web, f"/findings/{finding.id}")
        text = _main_text(html)
        assert 'class="json"' not in html
        assert not re.search(r"\b(True|False|None)\b", text), (finding.kind, text)
        assert not re.search(r"[\[{]\s*['\"]", text), f"raw JSON on the {finding.kind} page"
        assert not re.search(r"\d\.\d{5,}", text), f"unrounded numbers on {finding.kind}"
        explanation = re.search(r'<p class="explanation">(.*?)</p>', html, re.DOTALL)
        assert explanation and len(unescape(explanation.group(1))) > 40
        assert "<code>" in explanation.group(1), "names are shown as code, not backticks"
        assert "`" not in unescape(re.sub(r"<[^>]+>", "", explanation.group(1)))
    assert {"correlated", "feedback_loop", "undeclared_consumer", "legacy",
            "deprecated_in_use", "undocumented"} <= kinds_seen


def test_the_json_api_keeps_the_raw_evidence(web: FlaskClient, catalog_url: str) -> None:
    fid = finding_id(catalog_url, "correlated", "user_clicks_30d_copy")
    stored = next(f for f in _findings(catalog_url) if f.id == fid)
    data = web.get(f"/api/v1/findings/{fid}").get_json()
    assert data["evidence"] == stored.evidence
    assert data["explanation"].startswith("`user_clicks_30d_copy` carries the same information")


def test_a_loop_is_drawn_as_its_cycle_and_a_cluster_with_keeper(web: FlaskClient,
                                                                catalog_url: str) -> None:
    loop = _ok(web, f"/findings/{finding_id(catalog_url, 'feedback_loop', 'ctr_model')}")
    picture = re.search(r'<div class="graph-box finding-picture">(.*?)</div>', loop, re.DOTALL)
    assert picture and "<svg" in picture.group(1)
    for href in ("/consumers/ctr_model", "/sources/ctr_model.scores",
                 "/features/ctr_score_feature"):
        assert f'href="{href}"' in picture.group(1)
    assert "The cycle, step by step" in loop
    cluster = _ok(web, f"/findings/{finding_id(catalog_url, 'correlated', 'user_clicks_30d_copy')}")
    drawn = re.search(r'<div class="graph-box finding-picture">(.*?)</div>', cluster, re.DOTALL)
    assert drawn and ">keep<" in drawn.group(1) and ">drop<" in drawn.group(1)
    assert 'href="/features/user_clicks_30d"' in drawn.group(1)


def test_every_kind_has_words_and_old_evidence_falls_back_to_the_summary() -> None:
    from registry.analysis.detectors import KINDS

    assert set(KINDS) <= set(SENTENCES)
    odd = {"id": 1, "kind": "legacy", "subject": {"type": "feature", "name": "x"},
           "evidence": {"superseded_by": "not a list", "reason": "superseded"},
           "summary": "read by nobody", "related": []}
    assert explain_sentence(odd) == "Read by nobody."


def test_evidence_of_kinds_outside_the_fixture_is_laid_out() -> None:
    stale = {"kind": "stale_source", "subject": {"type": "source", "name": "s"},
             "evidence": {"freshness": "1d", "freshness_seconds": 86400.0,
                          "last_update": "2026-03-01T10:00:00+00:00", "age_seconds": 270000.0,
                          "overdue_seconds": 183600.0, "never_updated": False,
                          "consumers": ["ranker"], "production_consumers": ["ranker"]}}
    facts = {f["label"]: f["value"] for f in evidence_layout(stale)["facts"]}
    assert facts["age of the last update"] == {"text": "3 days 3 h"}
    assert facts["never updated"] == {"text": "no"}
    assert facts["consumers"] == [{"text": "ranker", "type": "consumer", "name": "ranker"}]
    unstable = {"kind": "unstable_dependency", "subject": {"type": "feature", "name": "f"},
                "evidence": {"changes": [{"kind": "scale", "factor": 1000.0,
                                          "ratios": {"std": 1000.0, "median_abs": 999.9},
                                          "words": "grew ×1,000 (a unit change?)"}],
                             "consumers": [{"name": "ranker", "stage": "production",
                                            "declared": True}]}}
    tables = {t["title"]: t for t in evidence_layout(unstable)["tables"]}
    changes = tables["What changed"]
    assert changes["columns"][:2] == ["kind", "what changed"]
    assert changes["rows"][0][1] == {"text": "grew ×1,000 (a unit change?)"}
    assert tables["Who reads it"]["rows"][0][2] == {"text": "yes"}


# ----- membership ------------------------------------------------------------------------------


def test_members_of_a_loop_or_cluster_show_the_finding(web: FlaskClient,
                                                      catalog_url: str) -> None:
    loop = finding_id(catalog_url, "feedback_loop", "ctr_model")
    for url in ("/features/ctr_score_feature", "/sources/ctr_model.scores"):
        assert f'href="/findings/{loop}"' in _ok(web, url), url
    cluster = finding_id(catalog_url, "correlated", "user_clicks_30d_copy")
    keeper = _ok(web, "/features/user_clicks_30d")
    assert f'href="/findings/{cluster}"' in keeper and "as a member, about" in keeper
    data = web.get("/api/v1/features/ctr_score_feature").get_json()
    assert any(f["id"] == loop and f["member"] for f in data["findings"])


# ----- the list ----------------------------------------------------------------------------------


def test_the_list_is_a_table_sorted_by_severity_then_urgency(web: FlaskClient) -> None:
    data = web.get("/api/v1/findings?per_page=1000").get_json()
    warnings = [f["kind"] for f in data["items"] if f["severity"] == "warning"]
    assert warnings.index("legacy") > max(i for i, k in enumerate(warnings)
                                          if k == "undeclared_consumer")
    html = _ok(web, "/findings")
    assert 'class="findings-table"' in html and 'name="ids"' in html
    assert "Acknowledge selected" in html
    cards = _ok(web, "/findings?view=cards")
    assert 'class="findings-table"' not in cards and 'class="finding sev-border' in cards
    newest = web.get("/api/v1/findings?sort=subject&per_page=1000").get_json()["items"]
    subjects = [f["subject"]["name"] for f in newest]
    assert subjects == sorted(subjects)
    assert web.get("/findings?sort=nonsense").status_code == 400
    paged = web.get("/api/v1/findings?per_page=10&page=2").get_json()
    assert paged["pagination"]["pages"] > 2 and len(paged["items"]) == 10
    assert 'rel="next"' in _ok(web, "/findings?per_page=10")


def test_bulk_acknowledge_from_the_form_is_all_or_nothing(web: FlaskClient,
                                                         catalog_url: str) -> None:
    html = _ok(web, "/findings?kind=legacy&owner=risk")
    ids = re.findall(r'name="ids" value="(\d+)"', html)[:3]
    assert len(ids) == 3
    token = _csrf(html)
    missing = web.post("/findings/bulk", data={"csrf_token": token, "ids": [*ids, "999999"],
                                               "action": "acknowledge", "reason": "x"})
    assert missing.status_code == 404
    no_reason = web.post("/findings/bulk", data={"csrf_token": token, "ids": ids,
                                                 "action": "acknowledge", "reason": " "})
    assert no_reason.status_code == 400
    assert {f.status for f in _findings(catalog_url) if str(f.id) in ids} == {"open"}
    forged = web.post("/findings/bulk", data={"csrf_token": "forged", "ids": ids,
                                              "action": "acknowledge", "reason": "x"})
    assert forged.status_code == 400
    done = web.post("/findings/bulk", data={"csrf_token": token, "ids": ids,
                                            "action": "acknowledge", "reason": "bulk cleanup",
                                            "next": "/findings?kind=legacy"})
    assert done.status_code == 303 and done.headers["Location"] == "/findings?kind=legacy"
    changed = [f for f in _findings(catalog_url) if str(f.id) in ids]
    assert {f.status for f in changed} == {"acknowledged"}
    assert {f.status_reason for f in changed} == {"bulk cleanup"}
    with session_scope(session_factory(catalog_url)) as session:
        audited = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.object_type == "finding", m.AuditEvent.object_name.in_(ids),
            m.AuditEvent.action == "acknowledged")).all()
        assert len(audited) == 3 and all("test-admin" in e.actor for e in audited)


def test_bulk_api_needs_a_token_and_the_team_of_every_finding(app: Flask,
                                                             catalog_url: str) -> None:
    legacy = [f.id for f in _findings(catalog_url)
              if f.kind == "legacy" and f.owner == "risk" and f.status == "open"][:2]
    growth = finding_id(catalog_url, "correlated", "user_clicks_30d_copy")
    anonymous = app.test_client()
    body = {"ids": legacy, "action": "suppress", "reason": "sunset planned",
            "until": "2026-12-31"}
    assert anonymous.post("/api/v1/findings/bulk", json=body).status_code == 401
    risk = {"Authorization": f"Bearer {_team_token(catalog_url, 'risk')}"}
    mixed = anonymous.post("/api/v1/findings/bulk", json={**body, "ids": [*legacy, growth]},
                           headers=risk)
    assert mixed.status_code == 403
    assert {f.status for f in _findings(catalog_url) if f.id in legacy} == {"open"}
    bad = anonymous.post("/api/v1/findings/bulk", json={**body, "ids": ["x"]}, headers=risk)
    assert bad.status_code == 400 and "ids[1]" in bad.get_data(as_text=True)
    done = anonymous.post("/api/v1/findings/bulk", json=body, headers=risk)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["count"] == 2
    after = [f for f in _findings(catalog_url) if f.id in legacy]
    assert {f.status for f in after} == {"suppressed"}
    assert all(f.suppressed_until and f.suppressed_until.date().isoformat() == "2026-12-31"
               for f in after)


# ----- actions -----------------------------------------------------------------------------------


def test_register_this_reader_gives_yaml_that_plans(web: FlaskClient, catalog_url: str,
                                                     tmp_path: Path) -> None:
    html = _ok(web, f"/consumers/{SLASH_PRINCIPAL}")
    box = re.search(r'<pre id="register-yaml">(.*?)</pre>', html, re.DOTALL)
    assert box and 'data-copy="register-yaml"' in html
    spec = yaml.safe_load(unescape(box.group(1)))
    entry = spec["consumers"][0]
    assert entry["name"] == SLASH_PRINCIPAL
    assert "user_clicks_30d" in entry["features"]
    assert '<div class="columns meta">' not in html, "no empty facts and docs boxes"
    hostile = _ok(web, f"/consumers/{quote(XSS_PRINCIPAL, safe='')}")
    assert XSS_PRINCIPAL not in hostile and "register-yaml" in hostile
    named = yaml.safe_load(unescape(re.search(r'<pre id="register-yaml">(.*?)</pre>', hostile,
                                              re.DOTALL).group(1)))  # type: ignore[union-attr]
    assert named["consumers"][0]["name"] == XSS_PRINCIPAL
    entry.update(name="nightly_export", owner="growth")
    path = tmp_path / "reader.yaml"
    path.write_text(yaml.safe_dump(spec))
    planned = Cli(catalog_url)("plan", str(path))
    assert planned.exit_code == 0, planned.output
    assert "nightly_export" in planned.output


def test_deprecation_candidates_offer_the_command_and_a_button(app: Flask, web: FlaskClient,
                                                              catalog_url: str) -> None:
    name = "bulk_feature_059"
    html = _ok(web, f"/features/{name}")
    command = re.search(r'<pre id="deprecate-command">(.*?)</pre>', html, re.DOTALL)
    assert command and unescape(command.group(1)).startswith(
        f"featreg deprecate {name} --sunset ")
    form = re.search(r'action="/features/bulk_feature_059/deprecate"', html)
    assert form and 'name="sunset"' in html
    anonymous = app.test_client().get(f"/features/{name}").get_data(as_text=True)
    assert 'id="deprecate-command"' in anonymous and "/deprecate\"" not in anonymous
    token = _csrf(html)
    sunset = re.search(r'name="sunset" value="([0-9-]+)"', html).group(1)  # type: ignore[union-attr]
    growth = app.test_client()
    growth.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {_team_token(catalog_url, 'growth')}"
    growth_page = growth.get(f"/features/{name}").get_data(as_text=True)
    assert f'action="/features/{name}/deprecate"' not in growth_page
    refused = growth.post(f"/features/{name}/deprecate",
                          data={"csrf_token": _csrf(growth_page), "sunset": sunset})
    assert refused.status_code == 403
    done = web.post(f"/features/{name}/deprecate",
                    data={"csrf_token": token, "sunset": sunset, "reason": "legacy finding"})
    assert done.status_code == 303
    feature = web.get(f"/api/v1/features/{name}").get_json()
    assert feature["status"] == "deprecated" and feature["sunset"] == sunset
    assert 'id="deprecate-command"' not in _ok(web, f"/features/{name}")


def test_undocumented_feature_points_to_its_declaration(web: FlaskClient) -> None:
    html = _ok(web, "/features/old_feature")
    assert 'href="/api/v1/catalog/objects/old_feature"' in html
    assert "does not keep the YAML file and line" in html
    text = " ".join(_main_text(html).split())
    assert "instead. Reason: superseded" in text


def test_a_finding_page_offers_its_actions(web: FlaskClient, catalog_url: str) -> None:
    undeclared = "undeclared_consumer"
    reader = _ok(web, f"/findings/{finding_id(catalog_url, undeclared, SLASH_PRINCIPAL)}")
    yaml_box = re.search(r'<pre id="register-yaml">(.*?)</pre>', reader, re.DOTALL)
    assert yaml_box and "user_clicks_30d" in yaml.safe_load(
        unescape(yaml_box.group(1)))["consumers"][0]["features"]
    registered = _ok(web, f"/findings/{finding_id(catalog_url, undeclared, 'ctr_model')}")
    assert 'id="register-yaml"' not in registered
    copy = _ok(web, f"/findings/{finding_id(catalog_url, 'correlated', 'user_clicks_30d_copy')}")
    command = re.search(r'<pre id="deprecate-command">(.*?)</pre>', copy, re.DOTALL)
    assert command and "--replacement user_clicks_30d" in unescape(command.group(1))
    undocumented = _ok(web, f"/findings/{finding_id(catalog_url, 'undocumented', 'old_feature')}")
    assert 'href="/api/v1/catalog/objects/old_feature"' in undocumented
    assert 'id="deprecate-command"' not in undocumented, "old_feature is deprecated already"


def test_membership_and_bulk_changes_on_both_databases(db_url: str) -> None:
    """The membership query reads the stored JSON as text on SQLite and PostgreSQL alike
    (names with LIKE wildcards and non-ASCII letters included); bulk changes are all or none."""
    from datetime import UTC, datetime

    from registry.analysis.inputs import FindingDraft
    from registry.core.errors import Forbidden, InvalidInput
    from registry.findings.bulk import set_status_many
    from registry.findings.records import record_findings
    from registry.read.finding_detail import member_findings

    now = datetime(2026, 3, 2, tzinfo=UTC)
    cycle = [("consumer", "m1"), ("source", "m1.out"), ("feature", "pred_%é")]
    drafts = [
        FindingDraft(kind="feedback_loop", subject_type="consumer", subject_name="m1",
                     related=tuple(cycle[1:]), summary="direct feedback loop",
                     evidence={"cycle": [{"type": t, "name": n} for t, n in cycle]}),
        FindingDraft(kind="correlated", subject_type="feature", subject_name="a_copy",
                     related=(("feature", "a"),), severity="info", summary="redundant",
                     evidence={"keeper": "a", "cluster": ["a", "a_copy", "a_b"]}),
    ]
    with session_scope(session_factory(db_url)) as session:
        run = m.AnalysisRun(analysis_time=now)
        session.add(run)
        session.flush()
        record_findings(session, drafts, run=run, now=now, owners={})
    with session_scope(session_factory(db_url)) as session:
        assert [f["kind"] for f in member_findings(session, "feature", "pred_%é")] == \
            ["feedback_loop"]
        assert member_findings(session, "feature", "pred_Xé") == []
        assert [f["kind"] for f in member_findings(session, "source", "m1.out")] == \
            ["feedback_loop"]
        assert member_findings(session, "consumer", "m1") == [], "its own, not as a member"
        assert [f["kind"] for f in member_findings(session, "feature", "a")] == ["correlated"]
        assert member_findings(session, "feature", "a_copy") == [], "its own, not as a member"
        ids = sorted(session.scalars(select(m.Finding.id)))

    def refuse_correlated(finding: m.Finding) -> None:
        if finding.kind == "correlated":
            raise Forbidden("not yours")

    with pytest.raises(Forbidden), session_scope(session_factory(db_url)) as session:
        set_status_many(session, ids, action="acknowledge", reason="r", actor="t", now=now,
                        check=refuse_correlated)
    with pytest.raises(InvalidInput), session_scope(session_factory(db_url)) as session:
        set_status_many(session, ids, action="delete", reason="r", actor="t", now=now)
    with session_scope(session_factory(db_url)) as session:
        assert set(session.scalars(select(m.Finding.status))) == {"open"}
        set_status_many(session, ids, action="suppress", reason="later", actor="t", now=now)
    with session_scope(session_factory(db_url)) as session:
        assert set(session.scalars(select(m.Finding.status))) == {"suppressed"}
        assert len(session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.object_type == "finding")).all()) == 2


def test_a_consumer_reading_undeclared_features_gets_its_entry_with_them(
        web: FlaskClient, catalog_url: str, tmp_path: Path) -> None:
    for url in ("/consumers/ctr_model",
                f"/findings/{finding_id(catalog_url, 'undeclared_consumer', 'ctr_model')}"):
        html = _ok(web, url)
        box = re.search(r'<pre id="declare-yaml">(.*?)</pre>', html, re.DOTALL)
        assert box, url
        entry = yaml.safe_load(unescape(box.group(1)))["consumers"][0]
        assert entry["name"] == "ctr_model" and entry["owner"] == "ads"
        assert entry["features"] == ["ctr_score_feature", "user_clicks_30d", "user_clicks_7d"]
        assert entry["produces"] == ["ctr_model.scores"]
    path = tmp_path / "ctr.yaml"
    path.write_text(unescape(box.group(1)))
    planned = Cli(catalog_url)("plan", str(path))
    assert planned.exit_code == 0 and "user_clicks_30d" in planned.output, planned.output
    assert 'id="declare-yaml"' not in _ok(web, "/consumers/fraud_model")
