"""Evidence comes in one way: every way in (CLI file, HTTP API, SDK direct and HTTP, the
batching logger in both transports, OpenLineage) goes through the same service and validator.

- ``POST /api/v1/usage`` takes daily counts beside events, all or nothing.
- The same bad item gets the same reason through the file, the API, the SDK and the logger.
- The HTTP SDK's batching logger posts its daily counts as they are (no pseudo-events) and
  the server stores exactly them.
- Services never commit: the caller's unit of work lands whole or not at all, and the
  OpenLineage service retries a conflicting concurrent copy in a SAVEPOINT, inside it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import test_http_client
import test_openlineage
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_openlineage import dataset, run_event

import registry
from registry.core.errors import InvalidInput
from registry.evidence import openlineage, usage
from registry.evidence.usage_events import MAX_COUNT, DailyCount, UsageEvent
from registry.sdk.client import Client
from registry.sdk.http import HttpClient
from registry.store import models as m
from registry.store.db import session_factory, session_scope

server_url = test_http_client.server_url  # fixture: a live server on its own database
app = test_openlineage.app  # fixture: the app on `db_url`, holding the OpenLineage catalog
http = test_openlineage.http  # fixture: its test client


def _cells(url: str) -> dict[tuple[date, str, str], tuple[int, datetime, datetime]]:
    with session_scope(session_factory(url)) as session:
        return {(r.day, r.feature, r.principal): (r.reads, r.first_read, r.last_read)
                for r in session.scalars(select(m.UsageDaily))}


def _count(url: str, model: Any) -> int:
    with session_scope(session_factory(url)) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ----- the API takes daily counts ---------------------------------------------------------------


def test_the_usage_api_takes_daily_counts_beside_events(http: FlaskClient, db_url: str) -> None:
    day = date(2026, 11, 1)
    items = [
        {"day": "2026-11-01", "consumer": "ranker", "feature": "age", "count": 40,
         "first_read": "2026-11-01T08:00:00Z", "last_read": "2026-11-01T21:30:00+01:00"},
        {"day": "2026-11-01", "consumer": "ranker", "feature": "country", "count": 3},
        {"ts": "2026-11-01T09:15:00Z", "consumer": "ranker", "features": ["age", "country"],
         "count": 2},
        {"day": "2026-11-01", "consumer": "ranker", "feature": "age", "count": 2,
         "last_read": "2026-11-01T06:00:00Z"},  # one time stands for both
    ]
    response = http.post("/api/v1/usage", json={"events": items})
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"events": 4, "reads": 40 + 3 + 4 + 2}
    midnight = datetime(2026, 11, 1, tzinfo=UTC)
    assert _cells(db_url) == {
        (day, "age", "ranker"): (44, datetime(2026, 11, 1, 6, tzinfo=UTC),
                                 datetime(2026, 11, 1, 20, 30, tzinfo=UTC)),
        (day, "country", "ranker"): (5, midnight, datetime(2026, 11, 1, 9, 15, tzinfo=UTC)),
    }


def test_bad_daily_counts_are_each_listed_and_nothing_is_stored(
        http: FlaskClient, db_url: str) -> None:
    good = {"day": "2026-11-01", "consumer": "ranker", "feature": "age", "count": 1}
    bad = [
        ({**good, "day": "2026-11-31"}, "day '2026-11-31' is not a date"),
        ({**good, "day": "01/11/2026"}, "YYYY-MM-DD"),
        ({**good, "count": 0}, f"count must be a whole number from 1 to {MAX_COUNT}"),
        ({k: v for k, v in good.items() if k != "count"}, "count must be a whole number"),
        ({**good, "feature": ""}, "feature must be a non-empty string"),
        ({**good, "features": ["age"], "feature": None}, "feature must be a non-empty string"),
        ({**good, "consumer": "x" * 200}, "consumer is longer than 128 characters"),
        ({**good, "first_read": "2026-11-02T00:00:00Z"}, "is not on the day 2026-11-01"),
        ({**good, "last_read": "2026-11-01T12:00:00"}, "last_read: timestamp"),
        ({**good, "first_read": "2026-11-01T12:00:00Z", "last_read": "2026-11-01T11:00:00Z"},
         "first_read must not be after last_read"),
        ({**good, "ts": "2026-11-01T12:00:00Z"}, "not both"),
    ]
    response = http.post("/api/v1/usage", json=[good, *(item for item, _ in bad)])
    assert response.status_code == 400
    problems = response.get_json()["problems"]
    assert [p["field"] for p in problems] == [f"event {n}" for n in range(2, len(bad) + 2)]
    for problem, (_item, reason) in zip(problems, bad, strict=True):
        assert reason in problem["message"], (problem, reason)
    assert _count(db_url, m.UsageDaily) == 0


# ----- one validator for every way in -----------------------------------------------------------


BAD = [  # (event, reason every way in gives)
    ({"ts": "2026-11-01T10:00:00", "consumer": "ctr", "features": ["age"], "count": 1},
     "timestamp '2026-11-01T10:00:00' has no timezone (add Z or an offset like +02:00)"),
    ({"ts": "2026-11-01T10:00:00Z", "consumer": "ctr", "features": ["age"], "count": 0},
     f"count must be a whole number from 1 to {MAX_COUNT}"),
    ({"ts": "2026-11-01T10:00:00Z", "consumer": "ctr", "features": ["x" * 129], "count": 1},
     "feature is longer than 128 characters"),
    ({"ts": "2026-11-01T10:00:00Z", "consumer": "", "features": ["age"], "count": 1},
     "consumer must be a non-empty string"),
]


def test_the_same_bad_event_gets_the_same_reason_through_every_way_in(
        client: Client, cli: Any, http: FlaskClient, tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event, _ in BAD))
    assert cli("usage", "ingest", str(path)).exit_code == 0
    with session_scope(session_factory(db_url)) as session:
        from_file = [r.reason for r in usage.rejected_lines(session)]
    from_api = [http.post("/api/v1/usage", json=[event]).get_json()["problems"][0]["message"]
                for event, _ in BAD]
    from_sdk = []
    for event, _ in BAD:
        moment = datetime.fromisoformat(event["ts"])
        with pytest.raises(InvalidInput) as caught:
            client.log_usage(event["consumer"], event["features"], count=event["count"],
                             ts=moment)
        from_sdk.append(caught.value.problems[0].message)
    reasons = [reason for _, reason in BAD]
    assert from_file == from_api == from_sdk == reasons
    with client.usage_logger("ctr", flush_interval=60) as logger:  # checked when logged
        for event, reason in BAD[1:3]:
            with pytest.raises(ValueError) as refused:
                logger.log(event["features"], count=event["count"])
            assert str(refused.value).startswith(reason)
    with pytest.raises(ValueError, match="^consumer must be a non-empty string"):
        client.usage_logger("")
    assert _count(db_url, m.UsageDaily) == 0


def test_direct_values_are_checked_in_their_json_shape(client: Client, db_url: str) -> None:
    """The service takes values (SDK) and decoded JSON (API) alike: a value is checked through
    its JSON shape, so the two cannot disagree."""
    day = date(2026, 11, 1)
    with session_scope(session_factory(db_url)) as session:
        reads = usage.record_usage(session, [
            UsageEvent(datetime(2026, 11, 1, 10, tzinfo=UTC), "ctr", ("age", "age"), 2),
            DailyCount(day, "ctr", "age", 5, datetime(2026, 11, 1, 9, tzinfo=UTC),
                       datetime(2026, 11, 1, 11, tzinfo=UTC)),
            DailyCount(day, "ctr", "age", 5, datetime(2026, 11, 1, 9, tzinfo=UTC),
                       datetime(2026, 11, 1, 11, tzinfo=UTC)).to_dict(),
        ])
    assert reads == 12
    assert _cells(db_url) == {(day, "age", "ctr"): (12, datetime(2026, 11, 1, 9, tzinfo=UTC),
                                                    datetime(2026, 11, 1, 11, tzinfo=UTC))}
    with session_scope(session_factory(db_url)) as session, pytest.raises(InvalidInput) as bad:
        usage.record_usage(session, [DailyCount(day, "ctr", "age", 1,
                                                datetime(2026, 11, 2, tzinfo=UTC))])
    assert "is not on the day 2026-11-01" in bad.value.problems[0].message


def test_importance_names_are_checked_by_the_same_rule_in_files_and_calls(
        client: Client, cli: Any, tmp_path: Path) -> None:
    client.register_team("growth", contact="growth@example.com")
    client.register_consumer("ctr", kind="model", owner="growth")
    long = "x" * 129
    path = tmp_path / "importance.csv"
    path.write_text(f"consumer,feature,importance\nctr,{long},0.5\n")
    from_file = cli("importance", "ingest", str(path))
    assert from_file.exit_code == 1
    output = " ".join(from_file.output.split())
    assert "importance.csv:2" in output and "feature is longer than 128 characters" in output
    with pytest.raises(InvalidInput) as caught:
        client.report_importance("ctr", {long: 0.5})
    assert caught.value.problems[0].message.startswith("feature is longer than 128 characters")


# ----- the HTTP logger sends its counts as they are ------------------------------------------


def test_the_http_logger_posts_daily_counts_as_they_are(server_url: str, tmp_path: Path
                                                        ) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"  # the server's database (test_http_client)
    remote = registry.connect(server_url, actor="tester")
    assert isinstance(remote, HttpClient)
    posted: list[Any] = []
    send = remote._request

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        if path == "/usage":
            posted.append(kwargs["body"])
        return send(method, path, **kwargs)

    remote._request = spy  # type: ignore[method-assign]
    with remote.usage_logger("serving", flush_interval=60) as logger:
        for _ in range(5):
            logger.log(["user_clicks_7d", "user_age"])
        logger.log("user_age", count=4)
    assert logger.failed_flushes == 0 and len(posted) == 1
    items = sorted(posted[0], key=lambda item: item["feature"])
    assert [(i["consumer"], i["feature"], i["count"]) for i in items] == [
        ("serving", "user_age", 9), ("serving", "user_clicks_7d", 5)]
    assert all(set(i) == {"day", "consumer", "feature", "count", "first_read", "last_read"}
               for i in items)
    stored = _cells(db)
    assert stored == {
        (date.fromisoformat(i["day"]), i["feature"], i["consumer"]):
            (i["count"], datetime.fromisoformat(i["first_read"]),
             datetime.fromisoformat(i["last_read"]))
        for i in items}


# ----- services never commit; OpenLineage retries in a SAVEPOINT ---------------------------


@pytest.fixture
def lineage_db(http: FlaskClient, db_url: str) -> str:
    """``db_url`` holding the OpenLineage tests' catalog (applied by their ``app``)."""
    return db_url


def _event(run_id: str = "run-1") -> dict[str, Any]:
    return run_event(run_id=run_id, inputs=[dataset("warehouse.clicks",
                                                    fields=["user_clicks_7d"])])


def test_services_leave_the_unit_of_work_to_the_caller(lineage_db: str) -> None:
    sessions = session_factory(lineage_db)
    with pytest.raises(RuntimeError), session_scope(sessions) as session:
        summary = openlineage.ingest_lineage_events(session, [_event()])
        assert summary.reads == 1
        usage.record_usage(session, [{"ts": "2026-11-01T10:00:00Z", "consumer": "x",
                                      "feature": "user_age"}])
        raise RuntimeError("the entry point fails after the services ran")
    assert _count(lineage_db, m.OpenLineageEvent) == 0
    assert _count(lineage_db, m.OpenLineageDataset) == 0
    assert _count(lineage_db, m.UsageDaily) == 0


def test_a_conflicting_concurrent_copy_is_retried_in_a_savepoint(
        lineage_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy an earlier request stored is not seen when the events are read (as when a
    concurrent request commits it in between): the unique key refuses the second copy, the
    service runs again inside a SAVEPOINT and reports a duplicate; what the caller's
    transaction did before stays."""
    init = openlineage._Store.__init__
    runs: list[int] = []

    def unaware_first_run(self: Any, session: Any, events: Any, *args: Any, **kw: Any) -> None:
        init(self, session, events, *args, **kw)
        runs.append(len(self.seen))
        if len(runs) == 1:
            self.seen = set()  # the concurrent copy is not visible yet

    with session_scope(session_factory(lineage_db)) as session:
        first = openlineage.ingest_lineage_events(session, [_event()])
        monkeypatch.setattr(openlineage._Store, "__init__", unaware_first_run)
        again = openlineage.ingest_lineage_events(session, [_event(), _event("run-2")])
    assert runs == [1, 1]  # ran twice, the retry saw the stored copy
    assert (first.events, first.duplicates, first.reads) == (1, 0, 1)
    assert (again.events, again.duplicates, again.reads) == (2, 1, 1)
    assert _count(lineage_db, m.OpenLineageEvent) == 2
    with session_scope(session_factory(lineage_db)) as session:
        reads = session.scalars(select(m.UsageDaily.reads)
                                .where(m.UsageDaily.feature == "user_clicks_7d")).all()
    assert reads == [2]  # run-1 once, run-2 once
