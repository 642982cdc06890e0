"""Hostile input (issue 11, "Defects"): each case is refused with a clear error (HTTP 400/413
naming the field, or CLI exit 1 with the reason), nothing is stored, and nothing crashes."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, authorize
from featreg.web import api_write, create_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_api_write import SPEC_YAML

from registry.catalog.spec import load_spec, parse_documents
from registry.core.errors import InvalidInput
from registry.store import models as m
from registry.store.db import session_factory, session_scope, upgrade


def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one nine times."""
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, levels):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text + f"features: [{{name: x, owner: t, dtype: int, tags: *a{levels - 1}}}]\n"


def nested(depth: int) -> str:
    """JSON text of arrays nested `depth` levels."""
    return "[" * depth + "]" * depth


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def count(url: str, model: Any) -> int:
    with session_scope(session_factory(url)) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Flask:
    return create_app({"DATABASE_URL": db_url, "TESTING": True, "DATA_DIR": str(tmp_path)})


@pytest.fixture
def http(app: Flask) -> FlaskClient:
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


# ----- D6: NUL characters ------------------------------------------------------------------------

NUL = "a\x00b"
RUN = "3f5e7a1c-0b7e-4c1e-9b8e-2f6d1f0c9a11"


def lineage_event(**job: str) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": "2026-11-01T12:00:00Z",
            "run": {"runId": RUN}, "job": {"namespace": "ns", "name": "job", **job},
            "inputs": [], "outputs": [], "producer": "tests",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}


@pytest.mark.parametrize(("path", "body", "model"), [
    ("/api/v1/lineage", lineage_event(name=NUL), m.OpenLineageEvent),
    ("/api/v1/lineage", lineage_event(namespace=NUL), m.OpenLineageEvent),
    ("/api/v1/lineage/batch", [lineage_event(name=NUL)], m.OpenLineageEvent),
    ("/api/v1/usage", [{"ts": "2026-11-01T12:00:00Z", "consumer": NUL,
                        "feature": "user_clicks_7d"}], m.UsageDaily),
    ("/api/v1/usage", [{"ts": "2026-11-01T12:00:00Z", "consumer": "ctr_model",
                        "features": [NUL]}], m.UsageDaily),
    ("/api/v1/importance", {"consumer": "ctr_model", "values": {"user_clicks_7d": 1.0},
                            "method": NUL}, m.ImportanceReport),
    ("/api/v1/importance", {"consumer": "ctr_model", "values": {"user_clicks_7d": 1.0},
                            "metric": NUL}, m.ImportanceReport),
    ("/api/v1/importance", {"consumer": "ctr_model", "values": {NUL: 1.0}},
     m.ImportanceReport),
    ("/api/v1/apply", {"yaml": SPEC_YAML, "label": NUL}, m.ChangeSet),
    ("/api/v1/apply", {"yaml": SPEC_YAML.replace("model, owner", 'model, version: "a\\0b", '
                                                 "owner"), "actor": NUL}, m.ChangeSet),
    ("/api/v1/features/user_clicks_7d/retire", {"reason": NUL}, m.ChangeSet),
    ("/api/v1/features/user_clicks_7d/retire", {"actor": NUL}, m.ChangeSet),
])
def test_nul_characters_are_a_400_naming_the_field(http: FlaskClient, db_url: str, path: str,
                                                   body: Any, model: Any) -> None:
    before = count(db_url, model)
    response = http.post(path, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "NUL" in response.get_data(as_text=True)
    assert count(db_url, model) == before


def test_a_nul_in_the_actor_header_is_a_400(http: FlaskClient, db_url: str) -> None:
    before = count(db_url, m.ChangeSet)
    response = http.post("/api/v1/features/user_clicks_7d/retire", json={},
                         headers={"X-Featreg-Actor": "a\x00b"})
    assert response.status_code == 400
    assert count(db_url, m.ChangeSet) == before


def test_a_jsonl_line_with_a_nul_is_kept_as_bad_and_the_rest_taken(cli: Cli, db_url: str,
                                                                   tmp_path: Path) -> None:
    assert cli("apply", str(write(tmp_path / "spec.yaml", SPEC_YAML))).exit_code == 0
    good = {"ts": "2026-11-01T12:00:00Z", "consumer": "ctr_model", "feature": "user_clicks_7d"}
    lines = [good, {**good, "consumer": NUL}, {**good, "feature": NUL}, {**good, "count": 2}]
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines)
                    + '{"ts": "2026-11-01T12:00:00Z", "consumer": "\\ud800", "feature": "x"}\n'
                    + '{"ts": "2026-11-01T12:00:00Z", "consumer": "a\x00b", "feature": "x"}\n')
    result = cli("usage", "ingest", str(path))
    assert result.exit_code in (0, 1), result.output
    with session_scope(session_factory(db_url)) as session:
        assert session.scalar(select(func.sum(m.UsageDaily.reads))) == 3
        reasons = session.scalars(select(m.UsageRejection.reason)
                                  .order_by(m.UsageRejection.line_number)).all()
    assert len(reasons) == 4 and all(reasons)
    assert "NUL" in reasons[0] and "NUL" in reasons[1]


# ----- D2: DNS rebinding -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/api/v1/features"),
                                              ("POST", "/api/v1/apply")])
def test_a_foreign_host_is_refused_even_with_a_matching_origin(http: FlaskClient, db_url: str,
                                                               method: str, path: str) -> None:
    before = count(db_url, m.ChangeSet)
    response = http.open(path, method=method, json={"spec": {}, "prune": True},
                         headers={"Host": "evil.example", "Origin": "http://evil.example"})
    assert response.status_code == 400
    assert "evil.example" in response.get_data(as_text=True)
    assert count(db_url, m.ChangeSet) == before


@pytest.mark.parametrize("host", ["localhost", "localhost:5000", "127.0.0.1:8080", "[::1]:80"])
def test_local_hosts_are_allowed_by_default(http: FlaskClient, host: str) -> None:
    assert http.get("/api/v1/features", headers={"Host": host}).status_code == 200


def test_allowed_hosts_come_from_the_setting(app: Flask) -> None:
    app.config["ALLOWED_HOSTS"] = "registry.example.com, .corp.example"
    client = app.test_client()
    for host, status in [("registry.example.com", 200), ("a.corp.example:443", 200),
                         ("corp.example", 200), ("localhost", 400), ("evil.example", 400),
                         ("xcorp.example", 400)]:
        assert client.get("/api/v1/features", headers={"Host": host}).status_code == status, host
    app.config["ALLOWED_HOSTS"] = None
    app.config["SERVE_HOST"] = "10.1.2.3"
    assert client.get("/api/v1/features", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    app.config["SERVE_HOST"] = "0.0.0.0"  # noqa: S104 - not a bind
    assert client.get("/api/v1/features", headers={"Host": "0.0.0.0"}).status_code == 400


def test_allowed_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str
                                            ) -> None:
    monkeypatch.setenv("FEATREG_ALLOWED_HOSTS", "featreg.example")
    client = create_app({"DATABASE_URL": sqlite_url, "TESTING": True}).test_client()
    assert client.get("/api/v1/features", headers={"Host": "featreg.example"}).status_code == 200
    assert client.get("/api/v1/features").status_code == 400


# ----- D7: concurrent applies --------------------------------------------------------------------


def test_eight_concurrent_applies_of_one_spec_all_succeed(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from registry.catalog import service as catalog

    spec = parse_documents([("spec.yaml", SPEC_YAML)])
    barrier = threading.Barrier(8)

    def apply(_: int) -> int | None:
        with session_scope(session_factory(db_url)) as session:
            barrier.wait()
            return catalog.apply_spec(session, spec, actor="tester")[1]

    with ThreadPoolExecutor(8) as pool:
        changesets = list(pool.map(apply, range(8)))
    assert sum(c is not None for c in changesets) == 1
    assert count(db_url, m.Feature) == 2 and count(db_url, m.ChangeSet) == 1


def test_an_apply_that_keeps_conflicting_is_a_clean_409() -> None:
    from registry.core.errors import Conflict
    from registry.wire import error_payload, raise_for_error

    status, body = error_payload(Conflict("another apply changed the catalog"))
    assert status == 409 and body["type"] == "Conflict"
    with pytest.raises(Conflict):
        raise_for_error(status, body)


# ----- D8: tracebacks in the CLI -----------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("sqlite:////nonexistent/folder/featreg.db", "sqlite:////nonexistent/folder/featreg.db"),
    ("postgresql://bob:s3cret@127.0.0.1:1/featreg", "bob:***@127.0.0.1:1"),
    ("nonsense://x", "nonsense://x"),
    ("::::", "::::"),
    ("mysql://bob:s3cret@localhost/x", "bob:***@localhost"),
])
def test_a_database_that_cannot_be_used_is_a_clean_error(url: str, shown: str) -> None:
    result = Cli(url)("features")
    assert result.exit_code == 1, result.output
    assert "cannot use the database" in result.output and shown in result.output
    assert "s3cret" not in result.output and "Traceback" not in result.output


def test_a_file_that_is_not_a_database_is_a_clean_error(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.db", "not a database\n" * 100)
    result = Cli(f"sqlite:///{path}")("features")
    assert result.exit_code == 1 and "is it a Featreg database" in result.output


@pytest.mark.parametrize(("data", "reason"), [
    (b"consumer,feature,importance\nctr_model,caf\xe9,1\n", "not UTF-8"),
    (b"consumer,feature,importance\nctr_model," + b"x" * 200_000 + b",1\n", "field limit"),
    (gzip.compress(b"consumer,feature,importance\n" + b"ctr_model,f,1\n" * 1000)[:300],
     "not UTF-8"),
])
def test_unreadable_importance_csv_is_a_clean_error(cli: Cli, db_url: str, tmp_path: Path,
                                                    data: bytes, reason: str) -> None:
    assert cli("apply", str(write(tmp_path / "spec.yaml", SPEC_YAML))).exit_code == 0
    path = tmp_path / "importance.csv"
    path.write_bytes(data)
    result = cli("importance", "ingest", str(path))
    assert result.exit_code == 1 and reason in result.output
    assert count(db_url, m.ImportanceReport) == 0


def test_a_truncated_gzip_snapshot_is_a_clean_error(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sample.csv.gz"
    data = gzip.compress(("a,b\n" + "".join(f"{i},{i * 7919 % 10007}\n" for i in range(50_000))
                          ).encode())
    path.write_bytes(data[: len(data) // 2])
    result = Cli(sqlite_url)("snapshot", "add", str(path))
    assert result.exit_code == 1, result.output
    assert "sample.csv.gz: cannot be read as CSV: Compressed file ended" in result.output
    assert count(sqlite_url, m.Snapshot) == 0


@pytest.mark.parametrize("args", [("explain", str(2**70)), ("history", "--limit", str(2**70)),
                                  ("findings", "ack", str(2**64)),
                                  ("usage", "rejected", "--limit", str(2**63))])
def test_huge_numbers_are_a_usage_error(sqlite_url: str, args: tuple[str, ...]) -> None:
    result = Cli(sqlite_url)(*args)
    assert result.exit_code == 2 and "range" in result.output


def test_a_huge_search_text_is_refused(sqlite_url: str) -> None:
    result = Cli(sqlite_url)("features", "--search", "x%_" * 40_000)
    assert result.exit_code == 1 and "limit is 500" in result.output


# ----- D10: size limits --------------------------------------------------------------------------


def test_a_snapshot_upload_over_the_limit_is_413_and_nothing_kept(
        http: FlaskClient, app: Flask, tmp_path: Path) -> None:
    import io

    from featreg.web.api_evidence import store_upload
    from werkzeug.datastructures import FileStorage
    from werkzeug.exceptions import RequestEntityTooLarge

    app.config["MAX_UPLOAD_BYTES"] = 10_000
    body = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(5000))).encode()
    response = http.post("/api/v1/snapshots", data={"file": (io.BytesIO(body), "s.csv")},
                         content_type="multipart/form-data")
    assert response.status_code == 413, response.get_data(as_text=True)
    assert "FEATREG_MAX_UPLOAD_BYTES" in response.get_data(as_text=True)
    with app.test_request_context(), pytest.raises(RequestEntityTooLarge):
        store_upload(FileStorage(io.BytesIO(body), "s.csv"))  # counted while saved
    assert count(app.config["DATABASE_URL"], m.Snapshot) == 0
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and "snapshots" in p.parts]


def test_a_plan_or_register_request_with_too_many_objects_is_413(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cap.db'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    web = authorize(app.test_client(), url)
    limit = api_write.MAX_SPEC_ENTRIES
    many = [{"name": f"t{i}"} for i in range(limit + 1)]
    assert web.post("/api/v1/plan", json={"spec": {"teams": many}}).status_code == 413
    entries = [{"kind": "teams", "fields": {"name": "x"}}] * (limit + 1)
    assert web.post("/api/v1/register", json={"entries": entries}).status_code == 413
    assert web.post("/api/v1/plan", json={"spec": {"teams": many[:3]}}).status_code == 200


def test_the_daily_read_counter_saturates_instead_of_overflowing(db_url: str) -> None:
    from datetime import UTC, datetime

    from registry.evidence.usage import READS_MAX, store_daily_counts
    from registry.evidence.usage_events import DailyReadCounts

    moment = datetime(2026, 11, 1, 12, tzinfo=UTC)
    for reads in (READS_MAX - 10, 100, READS_MAX):
        counts = DailyReadCounts()
        counts.cells[(moment.date(), "f", "p")] = [reads, moment, moment]
        with session_scope(session_factory(db_url)) as session:
            store_daily_counts(session, counts)
        with session_scope(session_factory(db_url)) as session:
            stored = session.scalar(select(m.UsageDaily.reads))
        assert isinstance(stored, int) and stored <= READS_MAX
    assert stored == READS_MAX
    counts = DailyReadCounts()
    counts.cells[(moment.date(), "g", "p")] = [READS_MAX * 3, moment, moment]
    with session_scope(session_factory(db_url)) as session:
        store_daily_counts(session, counts)
    with session_scope(session_factory(db_url)) as session:
        assert session.scalar(select(m.UsageDaily.reads).where(m.UsageDaily.feature == "g")
                              ) == READS_MAX


# ----- found by a later probe ---------------------------------------------------------------------


@pytest.mark.parametrize("cost", ["1e400", "-1e400", "NaN", "Infinity"])
def test_a_cost_that_is_not_a_finite_number_is_a_400(http: FlaskClient, db_url: str,
                                                     cost: str) -> None:
    """1e400 in JSON is infinity; PostgreSQL's JSON audit record cannot hold it (500) and
    SQLite stored it while the API showed null."""
    before = count(db_url, m.Feature)
    body = f'{{"name": "cost_probe", "owner": "growth", "dtype": "int", "cost": {cost}}}'
    response = http.post("/api/v1/features", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "cost" in response.get_data(as_text=True)
    assert count(db_url, m.Feature) == before


def test_a_cost_of_nan_in_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "spec.yaml", "teams: [{name: growth}]\nfeatures:\n"
                 "  - {name: f_cost, owner: growth, dtype: int, cost: .nan}\n")
    with pytest.raises(InvalidInput, match=r"spec.yaml:3.*cost"):
        load_spec([path])


@pytest.mark.parametrize("path", ["/api/v1/findings/2147483648", "/api/v1/reports/2147483648",
                                  "/api/v1/findings/99999999999999999999999",
                                  "/findings/2147483648", "/reports/99999999999999999999999"])
def test_a_row_id_beyond_the_id_columns_is_a_404(http: FlaskClient, path: str) -> None:
    assert http.get(path).status_code == 404


@pytest.mark.parametrize("text", ["? [a]\n: b\n", "features:\n  - {? [a] : b, name: f1}\n",
                                  "teams:\n  - {? {a: 1} : b, name: tt}\n",
                                  "? !!set {a}\n: 1\n"])
def test_a_mapping_key_that_is_a_list_or_mapping_is_refused_with_its_line(
        http: FlaskClient, tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "k.yaml", text)
    with pytest.raises(InvalidInput, match=r"k.yaml:\d: malformed YAML: mapping keys must be te"):
        load_spec([path])
    response = http.post("/api/v1/plan", json={"yaml": text})
    assert response.status_code == 400, response.get_data(as_text=True)


@pytest.mark.parametrize("consumer", [["a"], {"a": 1}, [], {}])
def test_a_usage_consumer_that_is_not_text_is_a_400(http: FlaskClient, db_url: str,
                                                    consumer: Any) -> None:
    before = count(db_url, m.UsageDaily)
    response = http.post("/api/v1/usage", json=[{"ts": "2026-11-01T12:00:00Z",
                                                 "consumer": consumer,
                                                 "features": ["user_clicks_7d"], "count": 3}])
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "event 1" in response.get_data(as_text=True)
    assert count(db_url, m.UsageDaily) == before


@pytest.mark.parametrize(("name", "body", "said"), [
    ("t.csv.gz", gzip.compress(b"user_clicks_7d\n1\n2\n")[:-5], "t.csv.gz: cannot be read"),
    ("e.csv", b"", "e.csv"),
    ("bad.parquet", b"PAR1garbagePAR1", "bad.parquet"),
])
def test_a_refused_snapshot_upload_keeps_no_file_and_names_the_upload(
        http: FlaskClient, app: Flask, tmp_path: Path, name: str, body: bytes,
        said: str) -> None:
    import io

    response = http.post("/api/v1/snapshots", data={"file": (io.BytesIO(body), name)},
                         content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 400, text
    assert said in text and str(tmp_path) not in text
    assert count(app.config["DATABASE_URL"], m.Snapshot) == 0
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and "snapshots" in p.parts]


@pytest.mark.parametrize("depth", [600, 900])
def test_yaml_nested_deeper_than_the_stack_is_malformed_not_a_crash(tmp_path: Path,
                                                                    depth: int) -> None:
    """Up to libyaml's own limit (1,000 levels) a deep value reached Python's recursion limit
    while the spec was built: a RecursionError traceback."""
    path = write(tmp_path / "deep.yaml", "features:\n  - {name: f, owner: growth, dtype: int, "
                 "tags: " + "[" * depth + "]" * depth + "}\n")
    with pytest.raises(InvalidInput, match="deep.yaml: malformed YAML: values are nested too"):
        load_spec([path])
