"""OpenLineage attribution with events built by the real openlineage-python client the way
its Airflow, Spark and dbt integrations build them: parent runs roll up to a registered
parent, namespaces and aliases keep same-named datasets apart, a bare-column feature is read
only through its own source, schemas are remembered, nested fields match by dotted path, and
what events send besides reads (static lineage, statistics, writers, ownership and
documentation) is kept and shown."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import yaml
from conftest import Cli, authorize
from featreg.web import create_app
from flask.testing import FlaskClient
from openlineage.client.event_v2 import (
    Dataset,
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    data_quality_metrics_input_dataset,
    documentation_dataset,
    input_statistics_input_dataset,
    ownership_dataset,
    parent_run,
    schema_dataset,
    symlinks_dataset,
)
from openlineage.client.serde import Serde
from sqlalchemy import select

from registry.evidence.openlineage_read import feature_statistics
from registry.store import models as m
from registry.store.db import session_factory, session_scope

CATALOG = """\
teams:
  - {name: data, contact: data@example.com}
sources:
  - {name: orders, kind: table, owner: data}
  - {name: sales.orders, kind: table, owner: data,
     openlineage: [{namespace: "postgres://db-a:5432", name: public.orders}]}
  - {name: archive.orders, kind: table, owner: data,
     openlineage: [{namespace: "postgres://db-b:5432", name: public.orders}]}
  - {name: profiles, kind: table, owner: data}
  - {name: scores, kind: table, owner: data}
features:
  - {name: order_id, owner: data, dtype: int, sources: [orders], description: Order.}
  - {name: sales.orders.amount, owner: data, dtype: float, sources: [sales.orders],
     description: Amount.}
  - {name: archive.orders.amount, owner: data, dtype: float, sources: [archive.orders],
     description: Archived amount.}
  - {name: profiles.address.city, owner: data, dtype: string, sources: [profiles],
     description: City.}
  - {name: scores.score, owner: data, dtype: float, sources: [scores], description: Score.}
consumers:
  - {name: daily_sales, kind: job, owner: data, features: [sales.orders.amount]}
  - {name: scorer, kind: model, owner: data, features: [scores.score]}
"""
T0 = "2026-11-20T02:00:00Z"
A, B = "postgres://db-a:5432", "postgres://db-b:5432"


def schema(*fields: Any) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(fields=[
        f if isinstance(f, schema_dataset.SchemaDatasetFacetFields)
        else schema_dataset.SchemaDatasetFacetFields(name=f, type="INT") for f in fields])


def event(job: str, *, namespace: str = "airflow", state: RunState = RunState.START,
          run_id: str | None = None, when: str = T0, parent: tuple[str, str, str] | None = None,
          inputs: list[InputDataset] | None = None, outputs: list[OutputDataset] | None = None
          ) -> dict[str, Any]:
    """A RunEvent as the client serialises it; ``parent`` is (namespace, job, runId)."""
    facets: dict[str, Any] = {}
    if parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent[2]), job=parent_run.Job(namespace=parent[0],
                                                                    name=parent[1]))
    built = RunEvent(eventType=state, eventTime=when, producer="https://example.com/airflow",
                     run=Run(runId=run_id or str(uuid.uuid4()), facets=facets),
                     job=Job(namespace=namespace, name=job), inputs=inputs or [],
                     outputs=outputs or [])
    return json.loads(Serde.to_json(built))  # type: ignore[no-any-return]


@pytest.fixture
def http(sqlite_url: str) -> FlaskClient:
    client = authorize(create_app({"DATABASE_URL": sqlite_url, "TESTING": True}).test_client(),
                       sqlite_url)
    response = client.post("/api/v1/apply", json={"yaml": CATALOG})
    assert response.status_code == 200, response.get_json()
    return client  # type: ignore[no-any-return]


def post(http: FlaskClient, *events: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/api/v1/lineage/batch", json=list(events))
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def reads(url: str) -> set[tuple[str, str, int]]:
    with session_scope(session_factory(url)) as session:
        return {(r.principal, r.feature, r.reads) for r in session.scalars(select(m.UsageDaily))}


def test_tasks_of_a_registered_dag_read_for_it_and_show_on_its_page(
        http: FlaskClient, sqlite_url: str) -> None:
    dag_run = str(uuid.uuid4())
    orders = InputDataset(namespace=A, name="public.orders",
                          facets={"schema": schema("amount")})
    upload = event("daily_sales.upload", parent=("airflow", "daily_sales", dag_run),
                   inputs=[orders])
    copy_run = str(uuid.uuid4())
    copy_start = event("daily_sales.copy", run_id=copy_run,
                       parent=("airflow", "daily_sales", dag_run), inputs=[orders])
    # the COMPLETE names no parent: the run keeps the parent its START named
    copy_done = event("daily_sales.copy", run_id=copy_run, state=RunState.COMPLETE,
                      when="2026-11-20T02:05:00Z", inputs=[orders])
    body = post(http, upload, copy_start, copy_done)
    assert {r["principal"] for r in body["results"]} == {"daily_sales"}
    assert reads(sqlite_url) == {("daily_sales", "sales.orders.amount", 2)}  # once per run
    page = http.get("/api/v1/openlineage/consumers/daily_sales").get_json()
    assert [(t["name"], t["runs"], t["last_state"]) for t in page["tasks"]] == [
        ("daily_sales.copy", 1, "COMPLETE"), ("daily_sales.upload", 1, "START")]
    # a Spark action under the Airflow task (its parent is the task's run) rolls up too
    spark = event("spark_app.execute_insert", namespace="spark",
                  parent=("airflow", "daily_sales.copy", copy_run), inputs=[orders])
    assert post(http, spark)["results"][0]["principal"] == "daily_sales"
    unregistered = event("adhoc", inputs=[orders])
    assert post(http, unregistered)["results"][0]["principal"] == "airflow/adhoc"
    html = http.get("/consumers/daily_sales").get_data(as_text=True)
    tasks = html.split("<h3>Tasks (")[1].split("</table>")[0]
    assert tasks.startswith("3)") and "daily_sales.upload" in tasks
    assert "spark_app.execute_insert" in tasks and "COMPLETE" in tasks


def test_parent_registered_mid_run_moves_the_runs_reads_to_it(
        http: FlaskClient, sqlite_url: str) -> None:
    run, dag_run = str(uuid.uuid4()), str(uuid.uuid4())
    profiles = InputDataset(namespace=A, name="profiles", facets={"schema": schema(
        schema_dataset.SchemaDatasetFacetFields(name="address", type="STRUCT", fields=[
            schema_dataset.SchemaDatasetFacetFields(name="city", type="STRING")]))})
    start = event("etl.load", run_id=run, parent=("airflow", "etl", dag_run),
                  inputs=[profiles])
    post(http, start)
    assert reads(sqlite_url) == {("airflow/etl.load", "profiles.address.city", 1)}
    registered = CATALOG + "  - {name: etl, kind: job, owner: data, " \
                           "features: [profiles.address.city]}\n"
    assert http.post("/api/v1/apply", json={"yaml": registered}).status_code == 200
    done = event("etl.load", run_id=run, state=RunState.COMPLETE, when="2026-11-20T02:09:00Z",
                 parent=("airflow", "etl", dag_run), inputs=[profiles])
    post(http, done)
    assert reads(sqlite_url) == {("etl", "profiles.address.city", 1)}


def test_namespaces_aliases_and_bare_columns(http: FlaskClient, sqlite_url: str) -> None:
    def read(job: str, namespace: str, name: str, *fields: str, **facets: Any
             ) -> dict[str, Any]:
        return event(job, inputs=[InputDataset(namespace=namespace, name=name,
                                               facets={"schema": schema(*fields), **facets})])

    post(http,
         read("a_reader", A, "public.orders", "amount"),
         read("b_reader", B, "public.orders", "amount"),
         # no alias for this namespace: public.orders on db-c is neither source
         read("c_reader", "postgres://db-c:5432", "public.orders", "amount"),
         # `order_id` is built on `orders`: read through it, not through sales.orders
         read("orders_reader", "s3://lake", "/orders", "order_id"),
         read("other_reader", A, "public.orders", "order_id"),
         # a symlinks identifier that a source declares as its alias
         read("linked", "hive://metastore", "lake.db.orders_v2", "amount",
              symlinks=symlinks_dataset.SymlinksDatasetFacet(identifiers=[
                  symlinks_dataset.Identifier(namespace=B, name="public.orders",
                                              type="TABLE")])))
    assert reads(sqlite_url) == {("airflow/a_reader", "sales.orders.amount", 1),
                                 ("airflow/b_reader", "archive.orders.amount", 1),
                                 ("airflow/orders_reader", "order_id", 1),
                                 ("airflow/linked", "archive.orders.amount", 1)}


def test_a_schema_is_remembered_and_facets_are_kept(http: FlaskClient, sqlite_url: str) -> None:
    described = schema(schema_dataset.SchemaDatasetFacetFields(
        name="score", type="DOUBLE", description="Churn score, 0 to 1"))
    announce = DatasetEvent(eventTime=T0, producer="https://example.com/client",
                            dataset=Dataset(namespace=A, name="scores", facets={
                                "schema": described,
                                "documentation": documentation_dataset.DocumentationDatasetFacet(
                                    description="Scores by day."),
                                "ownership": ownership_dataset.OwnershipDatasetFacet(owners=[
                                    ownership_dataset.Owner(name="team:ml")])}))
    metrics = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        rowCount=10, columnMetrics={"score": data_quality_metrics_input_dataset.ColumnMetrics(
            nullCount=1, distinctCount=9)})
    reader = event("scorer", inputs=[InputDataset(
        namespace=A, name="scores", inputFacets={
            "dataQualityMetrics": metrics,
            "inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                rowCount=10, size=2048)})])
    writer = event("backfill", state=RunState.COMPLETE,
                   outputs=[OutputDataset(namespace=A, name="scores")])
    post(http, json.loads(Serde.to_json(announce)), reader, writer)
    assert reads(sqlite_url) == {("scorer", "scores.score", 1)}  # the schema from the event
    view = http.get("/api/v1/openlineage/sources/scores").get_json()
    stats = {(s["facet"], s["field"]): s["metrics"] for s in view["statistics"]}
    assert stats[("dataQualityMetrics", "score")] == {"nullCount": 1, "distinctCount": 9}
    assert stats[("inputStatistics", None)] == {"rowCount": 10, "size": 2048}
    with session_scope(session_factory(sqlite_url)) as session:
        history = feature_statistics(session, "scores.score")
    assert [(h["facet"], h["metrics"]["nullCount"]) for h in history] == [
        ("dataQualityMetrics", 1)]
    assert view["warnings"] == ["airflow/backfill was seen writing this source, which names "
                                "no producer (no consumer declares it in produces)"]
    with session_scope(session_factory(sqlite_url)) as session:  # a COMPLETE run: an update
        assert session.scalars(select(m.SourceUpdate.source)).all() == ["scores"]


def test_job_events_are_static_lineage_declared_by_the_job(http: FlaskClient,
                                                           sqlite_url: str) -> None:
    declared = JobEvent(eventTime=T0, producer="https://example.com/dbt",
                        job=Job(namespace="airflow", name="daily_sales"),
                        inputs=[InputDataset(namespace=A, name="public.orders")],
                        outputs=[OutputDataset(namespace=A, name="reports.daily")])
    body = post(http, {**json.loads(Serde.to_json(declared)), "eventType": "COMPLETE"})
    assert body["results"][0]["kind"] == "JobEvent" and reads(sqlite_url) == set()
    page = http.get("/api/v1/openlineage/consumers/daily_sales").get_json()
    assert page["declared_by_job"][0]["declared_inputs"] == [
        {"namespace": A, "name": "public.orders"}]
    html = http.get("/consumers/daily_sales").get_data(as_text=True)
    declared_html = html.split("<h3>Declared by the job</h3>")[1].split("</table>")[0]
    assert f"{A}/public.orders" in declared_html and f"{A}/reports.daily" in declared_html


def test_observed_outputs_make_feedback_loops(http: FlaskClient, sqlite_url: str) -> None:
    writes_scores = event("scorer", state=RunState.COMPLETE,
                          outputs=[OutputDataset(namespace=A, name="scores")])
    post(http, writes_scores)
    cli = Cli(sqlite_url)
    assert cli("analyze", "--now", "2026-11-21T00:00:00Z").exit_code == 0
    found = json.loads(cli("findings", "--kind", "feedback_loop", "--format", "json").output)
    assert [f["subject"]["name"] for f in found] == ["scorer"]


def test_suggest_proposes_what_was_seen_and_apply_accepts_it(http: FlaskClient) -> None:
    described = schema(schema_dataset.SchemaDatasetFacetFields(
        name="device", type="STRUCT", description="The device", fields=[
            schema_dataset.SchemaDatasetFacetFields(name="os", type="STRING",
                                                    description="Operating system")]))
    seen = event("sessionize", namespace="spark", inputs=[InputDataset(
        namespace="postgres://web:5432", name="web.sessions", facets={
            "schema": described, "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name="team:web")])})])
    post(http, seen)
    text = http.get("/api/v1/openlineage/suggest?format=yaml").get_data(as_text=True)
    spec = yaml.safe_load(text)
    assert spec["teams"] == [{"name": "unowned"}, {"name": "web"}]  # the job names no owner
    assert spec["sources"] == [{"name": "web.sessions", "kind": "table", "owner": "web",
                                "openlineage": [{"namespace": "postgres://web:5432",
                                                 "name": "web.sessions"}]}]
    assert {f["name"]: f.get("description") for f in spec["features"]} == {
        "web.sessions.device": "The device", "web.sessions.device.os": "Operating system"}
    assert [c["name"] for c in spec["consumers"]] == ["sessionize"]
    page = http.get("/api/v1/openlineage/consumers/spark/sessionize").get_json()
    assert "web.sessions.device.os" in page["suggestion"]
    assert http.post("/api/v1/apply", json={"yaml": text}).status_code == 200
    assert http.get("/api/v1/openlineage/suggest").get_json() == {}


def test_openlineage_aliases_are_validated_with_file_and_line(tmp_path: Any,
                                                              sqlite_url: str) -> None:
    bad = CATALOG.replace('name: public.orders}]}', 'table: public.orders}]}', 1)
    (tmp_path / "bad.yaml").write_text(bad)
    result = Cli(sqlite_url)("plan", str(tmp_path / "bad.yaml"))
    assert result.exit_code == 1
    assert "bad.yaml:6" in result.output and "openlineage" in result.output
    (tmp_path / "good.yaml").write_text(CATALOG)
    cli = Cli(sqlite_url)
    assert cli("apply", str(tmp_path / "good.yaml")).exit_code == 0
    assert "No changes" in cli("plan", str(tmp_path / "good.yaml")).output
    exported = cli("export", "--out", str(tmp_path / "out"))
    assert exported.exit_code == 0
    text = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.yaml"))
    assert "db-b:5432" in text


def test_a_task_named_under_a_registered_dag_without_a_parent_facet_rolls_up(
        http: FlaskClient, sqlite_url: str) -> None:
    """Older Airflow integrations send `dag.task` with no parent facet."""
    orders = InputDataset(namespace=A, name="public.orders", facets={"schema": schema("amount")})
    assert post(http, event("daily_sales.extract.load", inputs=[orders]))["results"][0][
        "principal"] == "daily_sales"
    post(http, event("etl.load", inputs=[InputDataset(namespace=A, name="profiles", facets={
        "schema": schema("address.city")})]))
    assert ("airflow/etl.load", "profiles.address.city", 1) in reads(sqlite_url)
    registered = CATALOG + "  - {name: etl, kind: job, owner: data, " \
                           "features: [profiles.address.city]}\n"
    assert http.post("/api/v1/apply", json={"yaml": registered}).status_code == 200
    assert reads(sqlite_url) == {("daily_sales", "sales.orders.amount", 1),
                                 ("etl", "profiles.address.city", 1)}


def test_the_cli_ingests_ndjson_and_suggests(tmp_path: Any, sqlite_url: str) -> None:
    cli = Cli(sqlite_url)
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    assert cli("apply", str(tmp_path / "catalog.yaml")).exit_code == 0
    seen = event("nightly_export", when="2026-11-20T02:00:00", inputs=[InputDataset(
        namespace="kafka://broker:9092", name="clicks", facets={"schema": schema("user")})])
    lines = tmp_path / "events.ndjson"
    lines.write_text(json.dumps(seen) + "\n\n")
    ingested = cli("openlineage", "ingest", str(lines))
    assert ingested.exit_code == 0, ingested.output
    assert "no offset: read as UTC" in ingested.output and "1 events taken" in ingested.output
    assert "1 already received" in cli("openlineage", "ingest", "-",
                                       input=lines.read_text()).output
    assert cli("openlineage", "ingest", "-", input="{nope\n").exit_code == 1
    suggested = json.loads(cli("openlineage", "suggest", "--format", "json").output)
    assert suggested["sources"][0]["kind"] == "stream"
    assert suggested["features"][0]["name"] == "clicks.user"
    assert suggested["consumers"] == [{"name": "nightly_export", "kind": "job",
                                       "owner": "unowned"}]
    (tmp_path / "suggested.yaml").write_text(cli("openlineage", "suggest").output)
    assert cli("apply", str(tmp_path / "suggested.yaml")).exit_code == 0
    assert "Nothing to suggest" in cli("openlineage", "suggest").output
