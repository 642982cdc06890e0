"""Hostile input (issue 11, "Defects"): each case is refused with a clear error (HTTP 400/413
naming the field, or CLI exit 1 with the reason), nothing is stored, and nothing crashes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import authorize
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_api_write import SPEC_YAML, app  # noqa: F401  (the app fixture)

from registry.catalog.spec import load_spec, parse_documents
from registry.core.errors import InvalidInput
from registry.store import models as m
from registry.store.db import session_factory, session_scope


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one nine times."""
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text + f"features: [{{name: x, owner: t, dtype: int, tags: *a{levels - 1}}}]\n"


def nested(depth: int) -> str:
    """JSON text of arrays nested `depth` levels."""
    return "[" * depth + "]" * depth


def count(url: str, model: Any) -> int:
    with session_scope(session_factory(url)) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def http(app: Flask) -> FlaskClient:  # noqa: F811  (the imported fixture)
    client = authorize(app.test_client(), app.config["DATABASE_URL"])
    response = client.post("/api/v1/apply", json={"yaml": SPEC_YAML})
    assert response.status_code == 200, response.get_json()
    return client  # type: ignore[no-any-return]


# ----- D3: YAML aliases --------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as caught:
        parse_documents([("bomb.yaml", alias_bomb())])
    assert time.perf_counter() - started < 1
    assert "aliases" in str(caught.value)


@pytest.mark.parametrize("text", [
    "teams:\n  - &t {name: a}\n  - *t\n",
    "teams:\n  - {name: a, contact: &c a@example.com}\n  - {name: b, contact: *c}\n",
    "teams:\n  - &base {name: a}\n  - {<<: *base, contact: b@example.com}\n",
])
def test_every_alias_is_refused_with_its_line(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_documents([("f.yaml", text)])
    problem = caught.value.problems[0]
    assert problem.file == "f.yaml" and problem.line is not None
    assert "aliases" in problem.message


def test_an_alias_bomb_through_the_plan_endpoint_is_a_quick_400(http: FlaskClient) -> None:
    started = time.perf_counter()
    response = http.post("/api/v1/plan", json={"yaml": alias_bomb()})
    assert response.status_code == 400
    assert time.perf_counter() - started < 2
    assert "aliases" in json.dumps(response.get_json())


def test_every_duplicate_key_is_reported() -> None:
    text = "teams: []\nteams: []\nsources: []\nsources: []\nfeatures: []\n"
    with pytest.raises(InvalidInput) as caught:
        parse_documents([("f.yaml", text)])
    assert [(p.line, p.message) for p in caught.value.problems] == [
        (2, "malformed YAML: duplicate key 'teams'"),
        (4, "malformed YAML: duplicate key 'sources'")]


def test_an_unreadable_file_does_not_hide_the_problems_of_the_others(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"teams:\n  - {name: caf\xe9}\n")
    (tmp_path / "b.yaml").write_text("teams:\n  - {name: 1bad}\n")
    (tmp_path / "c.yaml").write_text("teams: [\n")
    with pytest.raises(InvalidInput) as caught:
        load_spec([tmp_path])
    files = sorted({Path(p.file or "").name for p in caught.value.problems})
    assert files == ["a.yaml", "b.yaml", "c.yaml"]


# ----- D4: deeply nested JSON --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/plan", "/api/v1/usage", "/api/v1/lineage",
                                  "/api/v1/lineage/batch", "/api/v1/register",
                                  "/api/v1/importance", "/api/v1/apply"])
@pytest.mark.parametrize("depth", [65, 5000, 100_000])
def test_deeply_nested_json_is_a_400(http: FlaskClient, path: str, depth: int) -> None:
    for body in (nested(depth), '{"spec": ' + nested(depth - 1) + "}"):
        response = http.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, response.get_data(as_text=True)
        assert "levels deep" in response.get_json()["message"]


def test_json_nested_up_to_the_limit_is_still_read(http: FlaskClient) -> None:
    response = http.post("/api/v1/plan", data='{"spec": {"teams": ' + nested(62) + "}}",
                         content_type="application/json")
    assert response.status_code == 400
    assert "levels deep" not in response.get_json()["message"]

