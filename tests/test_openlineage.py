"""OpenLineage: parsing run events, the mapping to principals, sources and features, the
endpoint (gzip, retries, malformed events), and the real openlineage-python client posting to
a live `featreg serve` whose next analysis reports the job as an undeclared consumer."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import authorize
from featreg.web import create_app
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from registry.core.errors import InvalidInput
from registry.evidence.openlineage_events import JobRef, parse_event
from registry.evidence.openlineage_matching import qualified_principal
from registry.store import models as m
from registry.store.db import dispose_engine, session_factory, session_scope

CATALOG_YAML = """\
teams:
  - {name: growth, contact: growth@example.com}
sources:
  - {name: warehouse.clicks, kind: table, owner: growth}
  - {name: data.profiles, kind: file, owner: growth}
  - {name: features.daily, kind: table, owner: growth}
features:
  - {name: user_clicks_7d, owner: growth, dtype: int, sources: [warehouse.clicks],
     description: Clicks.}
  - {name: warehouse.clicks.country, owner: growth, dtype: category,
     sources: [warehouse.clicks], description: Country of the click.}
  - {name: pg.events.device, owner: growth, dtype: category, description: Device.}
  - {name: user_age, owner: growth, dtype: int, sources: [data.profiles], description: Age.}
consumers:
  - {name: ctr_training, kind: job, owner: growth, features: [user_clicks_7d]}
"""
T0 = "2026-11-01T10:00:00.000000Z"


def run_event(*, run_id: str = "run-1", event_type: str | None = "START", when: str = T0,
              namespace: str = "nightly", job: str = "feature_export",
              inputs: list[dict[str, Any]] | None = None,
              outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventTime": when, "run": {"runId": run_id}, "job": {"namespace": namespace, "name": job},
        "inputs": inputs or [], "outputs": outputs or [],
        "producer": "https://example.com/tests", "schemaURL":
            "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}
    if event_type is not None:
        event["eventType"] = event_type
    return event


def dataset(name: str, namespace: str = "postgres://db:5432", *, fields: list[str] = (),
            **facets: Any) -> dict[str, Any]:
    if fields:
        facets["schema"] = {"fields": [{"name": f, "type": "INT"} for f in fields]}
    return {"namespace": namespace, "name": name, "facets": facets}


# ----- parsing -------------------------------------------------------------------------------


def test_parse_collects_schema_columns_column_lineage_and_symlinks() -> None:
    lineage = {"fields": {"out_a": {"inputFields": [
        {"namespace": "pg", "name": "warehouse.clicks", "field": "country"},
        {"namespace": "s3", "name": "/raw/events", "field": "device"}]}},
        "dataset": [{"namespace": "pg", "name": "warehouse.clicks", "field": "user_id"}]}
    event = parse_event(run_event(
        inputs=[dataset("warehouse.clicks", "pg", fields=["user_clicks_7d", "country"],
                        symlinks={"identifiers": [{"namespace": "hive", "name": "wh.clicks",
                                                   "type": "TABLE"}]})],
        outputs=[dataset("features.daily", "pg", columnLineage=lineage)]))
    assert event is not None
    assert event.event_time == datetime(2026, 11, 1, 10, tzinfo=UTC)
    by_name = {d.name: d for d in event.inputs}
    assert by_name["warehouse.clicks"].columns == ("user_clicks_7d", "country", "user_id")
    assert [(s.namespace, s.name) for s in by_name["warehouse.clicks"].symlinks] == [
        ("hive", "wh.clicks")]
    assert by_name["/raw/events"].columns == ("device",)  # named only by columnLineage
    assert by_name["/raw/events"].source_candidates() == ["/raw/events", "raw.events"]
    assert [d.name for d in event.outputs] == ["features.daily"]


def test_event_key_identifies_retries_not_other_events() -> None:
    first = parse_event(run_event())
    assert first.key == parse_event(json.loads(json.dumps(run_event(), indent=2))).key
    reordered = dict(reversed(list(run_event().items())))
    assert first.key == parse_event(reordered).key
    others = [run_event(event_type="COMPLETE"), run_event(run_id="run-2"),
              run_event(when="2026-11-01T10:00:01Z"), run_event(namespace="other"),
              # same run, type, time and job, different content: another event
              run_event(inputs=[dataset("warehouse.clicks")])]
    assert len({first.key} | {parse_event(e).key for e in others}) == 6


@pytest.mark.parametrize(("event", "reason"), [
    ([], "an event must be a JSON object"),
    ({"eventType": "START"}, "job must be an object"),
    (run_event(when="yesterday"), "eventTime: Invalid isoformat"),
    (run_event(when=17), "eventTime must be an ISO 8601"),  # type: ignore[arg-type]
    ({**run_event(), "run": {}}, "run.runId must be a non-empty string"),
    ({**run_event(), "run": {"runId": None, "facets": {}}}, "run.runId must be a non-empty"),
    ({**run_event(), "run": "r"}, "run must be an object"),
    ({k: v for k, v in run_event().items() if k != "run"}, "run must be an object"),
    ({**run_event(), "job": {"namespace": "n"}}, "job.name must be a non-empty string"),
    ({**run_event(), "job": {"namespace": "n", "name": "x" * 1025}},
     "job.name is longer than 1,024 characters"),
    (run_event(inputs=[dataset("t" * 1025)]), "inputs[0].name is longer than 1,024"),
    (run_event(inputs=[{"name": "t"}]), "inputs[0].namespace must be a non-empty string"),
    (run_event(inputs=["t"]), "inputs[0] must be an object"),
    ({**run_event(), "run": {"runId": "r", "facets": {"parent": {
        "job": {"namespace": "n", "name": "p" * 1025}, "run": {"runId": "p"}}}}},
     "run.facets.parent.job.name is longer than 1,024"),
])
def test_malformed_events_are_refused_with_the_reason(event: Any, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_event(event)
    assert reason in caught.value.problems[0].message


def test_what_real_producers_send_is_taken() -> None:
    tolerant = parse_event({**run_event(when="2026-11-01T10:00:00", event_type="done"),
                            "inputs": {"a": 1}, "outputs": None, "run": {
                                "runId": "r", "facets": {"parent": None, "x": [1]}},
                            "job": {"namespace": "n", "name": "j" * 1024, "facets": None}})
    assert tolerant.event_time == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert tolerant.event_type == "OTHER" and (tolerant.inputs, tolerant.outputs) == ((), ())
    assert any("no offset: read as UTC" in w for w in tolerant.warnings)
    odd_facets = parse_event(run_event(inputs=[dataset("t", schema={"fields": [
        {"type": "INT"}, {"name": "a", "fields": [{"name": "b", "description": "B."}]}]},
        symlinks="x", documentation=["no"], ownership={"owners": [{"name": "team:core"}]})],
        outputs=[dataset("u", columnLineage={"fields": {"a": {"inputFields": [
            {"namespace": "n", "name": "t"}]}}})]))
    assert odd_facets.inputs[0].columns == ("a", "a.b")  # nested fields by dotted path
    assert odd_facets.inputs[0].owners == ("team:core",)
    zoned = parse_event(run_event(when="2026-11-01T12:00:00+02:00[Europe/Paris]"))
    assert zoned.event_time == datetime(2026, 11, 1, 10, tzinfo=UTC) and not zoned.warnings


def test_the_kind_comes_from_the_schema_url_else_the_shape() -> None:
    job_url = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
    with_type = {"eventTime": T0, "eventType": "COMPLETE", "schemaURL": job_url,
                 "job": {"namespace": "n", "name": "j"}, "inputs": [dataset("a")]}
    assert parse_event(with_type).kind == "JobEvent"
    assert parse_event(with_type).inputs[0].name == "a"
    assert parse_event({"eventTime": T0, "job": {"namespace": "n", "name": "j"}}).kind == (
        "JobEvent")
    ds = parse_event({"eventTime": T0, "dataset": dataset("d", fields=["x"]),
                      "schemaURL": "https://openlineage.io/spec/1-0-0/OpenLineage.json"
                                   "#/definitions/DatasetEvent"})
    assert ds.kind == "DatasetEvent" and ds.outputs[0].schema is not None
    assert parse_event(run_event()).kind == "RunEvent"


def test_a_principal_is_namespace_slash_name_cut_with_a_digest_when_long() -> None:
    assert qualified_principal(JobRef("airflow", "export")) == "airflow/export"
    long = qualified_principal(JobRef("s3://" + "b" * 130, "export"))
    assert len(long) == 128 and long.startswith("s3://bbb") and long[-9] == "~"
    assert long != qualified_principal(JobRef("s3://" + "b" * 131, "export"))


# ----- the endpoint --------------------------------------------------------------------------


@pytest.fixture
def app(db_url: str) -> Flask:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    response = authorize(app.test_client(), db_url).post("/api/v1/apply",
                                                         json={"yaml": CATALOG_YAML})
    assert response.status_code == 200, response.get_json()
    return app


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return authorize(app.test_client(), app.config["DATABASE_URL"])  # type: ignore[no-any-return]


def usage_rows(url: str) -> list[tuple[str, str, int, datetime]]:
    with session_scope(session_factory(url)) as session:
        return [(r.principal, r.feature, r.reads, r.first_read) for r in session.scalars(
            select(m.UsageDaily).order_by(m.UsageDaily.principal, m.UsageDaily.feature))]


def test_columns_become_reads_of_features_at_event_time(http: FlaskClient, db_url: str) -> None:
    event = run_event(
        inputs=[dataset("warehouse.clicks", fields=["user_clicks_7d", "country", "user_id"]),
                dataset("/data/profiles", "s3://bucket", fields=["user_age"]),
                dataset("events", "pg", fields=["device"])],  # the namespace is not a prefix
        outputs=[dataset("features.daily")])
    response = http.post("/api/v1/lineage", json=event)
    assert response.status_code == 201, response.get_json()
    result = response.get_json()["results"][0]
    assert result["principal"] == "nightly/feature_export"
    assert result["reads"] == ["user_age", "user_clicks_7d", "warehouse.clicks.country"]
    inputs = {i["name"]: i for i in result["inputs"]}
    assert inputs["warehouse.clicks"]["unmatched_fields"] == ["user_id"]
    assert inputs["/data/profiles"]["source"] == "data.profiles"
    assert inputs["events"]["source"] is None and inputs["events"]["features"] == []
    assert result["outputs"] == [{"namespace": "postgres://db:5432", "name": "features.daily",
                                  "source": "features.daily"}]
    when = datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert usage_rows(db_url) == [("nightly/feature_export", f, 1, when)
                                  for f in result["reads"]]


def test_one_read_per_run_and_retries_change_nothing(http: FlaskClient, db_url: str) -> None:
    reads = [dataset("warehouse.clicks", fields=["user_clicks_7d"])]
    start = run_event(inputs=reads)
    complete = run_event(event_type="COMPLETE", when="2026-11-01T10:05:00Z", inputs=reads,
                         outputs=[dataset("features.daily")])
    assert http.post("/api/v1/lineage", json=start).status_code == 201
    retry = http.post("/api/v1/lineage", json=start)
    assert retry.status_code == 200 and retry.get_json()["duplicates"] == 1
    assert http.post("/api/v1/lineage", json=complete).get_json()["reads"] == 0
    assert http.post("/api/v1/lineage", json=complete).status_code == 200
    next_run = run_event(run_id="run-2", when="2026-11-01T11:00:00Z", inputs=reads)
    assert http.post("/api/v1/lineage", json=next_run).get_json()["reads"] == 1
    assert [(p, f, n) for p, f, n, _ in usage_rows(db_url)] == [
        ("nightly/feature_export", "user_clicks_7d", 2)]
    seen = {(d["direction"], d["name"]): d for d in
            http.get("/api/v1/openlineage/datasets?principal=nightly/feature_export").get_json()}
    assert seen[("input", "warehouse.clicks")]["events"] == 3
    assert seen[("output", "features.daily")]["source"] == "features.daily"
    assert seen[("input", "warehouse.clicks")]["last_seen"] == "2026-11-01T11:00:00+00:00"


def test_a_registered_job_is_its_consumer(http: FlaskClient, db_url: str) -> None:
    event = run_event(namespace="airflow", job="ctr_training",
                      inputs=[dataset("warehouse.clicks", fields=["user_clicks_7d", "country"])])
    assert http.post("/api/v1/lineage", json=event).get_json()["results"][0]["principal"] == (
        "ctr_training")
    assert {p for p, *_ in usage_rows(db_url)} == {"ctr_training"}


def test_gzip_batches_and_malformed_events(http: FlaskClient, db_url: str) -> None:
    events = [run_event(run_id=f"r{i}", inputs=[dataset("warehouse.clicks",
                                                         fields=["user_clicks_7d"])])
              for i in range(3)]
    body = gzip.compress(json.dumps(events).encode())
    bad_batch = [*events, {"eventTime": T0}, {**run_event(), "run": {}}]
    refused = http.post("/api/v1/lineage/batch", json=bad_batch)
    assert refused.status_code == 400
    assert [p["field"] for p in refused.get_json()["problems"]] == ["event 4", "event 5"]
    assert usage_rows(db_url) == []
    response = http.post("/api/v1/lineage/batch", data=body, content_type="application/json",
                         headers={"Content-Encoding": "gzip"})
    assert response.status_code == 201
    assert (response.get_json()["events"], response.get_json()["reads"]) == (3, 3)
    wrapped = http.post("/api/v1/lineage/batch", json={"events": events})
    assert wrapped.status_code == 200 and wrapped.get_json()["duplicates"] == 3
    job_event = {"eventTime": T0, "job": {"namespace": "n", "name": "j"}}
    taken = http.post("/api/v1/lineage", json=job_event).get_json()
    assert (taken["events"], taken["results"][0]["kind"]) == (1, "JobEvent")
    for bad_body in (b"{not json", b"", gzip.compress(b"[1, 2")):
        headers = {"Content-Encoding": "gzip"} if bad_body.startswith(b"\x1f\x8b") else {}
        response = http.post("/api/v1/lineage", data=bad_body, headers=headers,
                             content_type="application/json")
        assert response.status_code == 400
        assert response.get_json()["message"]
    assert http.post("/api/v1/lineage/batch", json={"no": "events"}).status_code == 400


# ----- the real client against a live server -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def live(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[str, str, str]]:
    """(base URL, database URL, admin token) of a `featreg serve` subprocess on a loaded
    catalog."""
    folder = tmp_path_factory.mktemp("openlineage-live")
    shutil.copy(sqlite_template, folder / "featreg.db")
    db = f"sqlite:///{folder / 'featreg.db'}"
    (folder / "catalog.yaml").write_text(CATALOG_YAML)
    featreg = str(Path(sys.executable).with_name("featreg"))
    subprocess.run([featreg, "--db", db, "apply", str(folder / "catalog.yaml")], check=True,
                   capture_output=True)
    token = subprocess.run([featreg, "--db", db, "token", "create", "--admin", "--name", "ol"],
                           check=True, capture_output=True, text=True).stdout.strip()
    port = _free_port()
    server = subprocess.Popen([featreg, "--db", db, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts gunicorn slowly
    while True:
        try:
            with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2):
                break
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "featreg serve did not start"
            time.sleep(0.1)
    try:
        yield base, db, token
    finally:
        server.terminate()
        server.wait(timeout=15)
        if server.stderr is not None:
            server.stderr.close()
        dispose_engine(db)


def test_real_openlineage_client_events_make_an_undeclared_consumer(
    live: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset
    from openlineage.client.transport.http import (
        ApiKeyTokenProvider,
        HttpCompression,
        HttpConfig,
        HttpTransport,
    )

    base, db, token = live
    now = datetime.now(UTC) - timedelta(minutes=5)  # reads must be before the analysis time
    clicks = InputDataset(namespace="postgres://warehouse:5432", name="warehouse.clicks", facets={
        "schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name="user_clicks_7d", type="INT"),
            schema_dataset.SchemaDatasetFacetFields(name="user_id", type="BIGINT")])})
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(fields={
        "age_bucket": column_lineage_dataset.Fields(inputFields=[
            column_lineage_dataset.InputField(namespace="s3://lake", name="/data/profiles",
                                              field="user_age")])})
    output = OutputDataset(namespace="postgres://warehouse:5432", name="features.daily",
                           facets={"columnLineage": lineage})
    export_run, training_run = Run(runId=str(uuid.uuid4())), Run(runId=str(uuid.uuid4()))
    export_job = Job(namespace="nightly", name="feature_export")
    training_job = Job(namespace="airflow", name="ctr_training")

    monkeypatch.setenv("OPENLINEAGE_URL", base)  # the documented setup: defaults otherwise
    monkeypatch.setenv("OPENLINEAGE_API_KEY", token)  # sent as "Authorization: Bearer <key>"
    for name in [k for k in os.environ if k.startswith("OPENLINEAGE__")]:
        monkeypatch.delenv(name)
    plain = OpenLineageClient()
    plain.emit(RunEvent(eventType=RunState.START, eventTime=now.isoformat(), run=export_run,
                        job=export_job, inputs=[clicks]))
    gzipped = OpenLineageClient(transport=HttpTransport(HttpConfig(
        url=base, compression=HttpCompression.GZIP, auth=ApiKeyTokenProvider({"apiKey": token}))))
    complete = RunEvent(eventType=RunState.COMPLETE,
                        eventTime=(now + timedelta(seconds=5)).isoformat(), run=export_run,
                        job=export_job, inputs=[clicks], outputs=[output])
    gzipped.emit(complete)
    gzipped.emit(complete)  # a retry
    training_reads = InputDataset(namespace="pg", name="warehouse.clicks", facets={
        "schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name="user_clicks_7d"),
            schema_dataset.SchemaDatasetFacetFields(name="country")])})
    gzipped.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=now.isoformat(),
                          run=training_run, job=training_job, inputs=[training_reads]))

    featreg = str(Path(sys.executable).with_name("featreg"))
    analysed = subprocess.run([featreg, "--db", db, "analyze"], capture_output=True, text=True)
    assert analysed.returncode == 0, analysed.stderr
    listed = subprocess.run([featreg, "--db", db, "findings", "--kind", "undeclared_consumer",
                             "--format", "json"], capture_output=True, text=True, check=True)
    findings = {f["subject"]["name"]: f for f in json.loads(listed.stdout)}
    export = findings["nightly/feature_export"]
    assert export["subject"]["type"] == "consumer"
    assert sorted(r["name"] for r in export["related"]) == ["user_age", "user_clicks_7d"]
    assert export["evidence"]["registered"] is False
    assert [(r["feature"], r["count"]) for r in export["evidence"]["reads"]] == [
        ("user_age", 1), ("user_clicks_7d", 1)]  # START + COMPLETE + retry: one read each
    training = findings["ctr_training"]  # a registered consumer: only the undeclared read
    assert [r["name"] for r in training["related"]] == ["warehouse.clicks.country"]
    with urllib.request.urlopen(base + "/api/v1/openlineage/datasets?direction=output") as got:
        outputs = json.loads(got.read())
    assert [(d["principal"], d["name"], d["source"]) for d in outputs] == [
        ("nightly/feature_export", "features.daily", "features.daily")]


def test_concurrent_copies_of_one_event_count_once(live: tuple[str, str, str]) -> None:
    base, db, token = live
    event = run_event(run_id=str(uuid.uuid4()), job="concurrent",
                      when=datetime.now(UTC).isoformat(),
                      inputs=[dataset("warehouse.clicks", fields=["user_clicks_7d"])])
    body = json.dumps(event).encode()
    statuses: list[int] = []

    def post() -> None:
        request = urllib.request.Request(base + "/api/v1/lineage", data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            statuses.append(response.status)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * 7 + [201]
    with session_scope(session_factory(db)) as session:
        reads = session.scalars(select(m.UsageDaily.reads).where(
            m.UsageDaily.principal == "nightly/concurrent")).all()
    assert reads == [1]


def test_the_consumer_page_shows_what_a_job_reads_and_writes_and_flags_undeclared_outputs(
        http: FlaskClient) -> None:
    event = run_event(namespace="airflow", job="ctr_training",
                      inputs=[dataset("warehouse.clicks", fields=["user_clicks_7d"])],
                      outputs=[dataset("features.daily"),
                               dataset("<script>alert(1)</script>", "s3://bucket")])
    assert http.post("/api/v1/lineage", json=event).status_code == 201
    page = http.get("/api/v1/consumers/ctr_training").get_json()
    assert [d["source"] for d in page["observed_inputs"]] == ["warehouse.clicks"]
    assert sorted((d["name"], d["source"], d["declared"]) for d in page["observed_outputs"]) == [
        ("<script>alert(1)</script>", None, False), ("features.daily", "features.daily", False)]
    assert len(page["undeclared_outputs"]) == 2
    html = http.get("/consumers/ctr_training").get_data(as_text=True)
    assert "Undeclared outputs" in html and "Seen by OpenLineage" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # declaring the output clears the warning; a job seen only writing still gets a page
    declared = CATALOG_YAML.replace("features: [user_clicks_7d]}",
                                    "features: [user_clicks_7d], produces: [features.daily]}")
    declared = declared.replace("{name: features.daily, kind: table,",
                                "{name: features.daily, kind: model_output,")
    assert http.post("/api/v1/apply", json={"yaml": declared}).status_code == 200
    page = http.get("/api/v1/consumers/ctr_training").get_json()
    assert [d["name"] for d in page["undeclared_outputs"]] == ["<script>alert(1)</script>"]
    writer = run_event(run_id="run-w", job="export_only", outputs=[dataset("features.daily")])
    assert http.post("/api/v1/lineage", json=writer).status_code == 201
    only_writes = http.get("/api/v1/consumers/nightly/export_only").get_json()
    assert not only_writes["registered"] and len(only_writes["observed_outputs"]) == 1
