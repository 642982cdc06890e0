"""One time parser (`registry.core.timeparse`) for every time that comes from users and the
wire, and the clean refusal of times whose conversion to UTC leaves the datetime range
(``0001-01-01T00:00:00+14:00``) at every way in: usage JSON Lines (a bad line, the rest taken),
the usage API, importance CSV and API, OpenLineage ``eventTime`` and the CLI's ``--now``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import authorize
from featreg.web import create_app
from flask.testing import FlaskClient

from registry.core.errors import FeatregError, InvalidInput
from registry.core.timeparse import InvalidTime, as_utc, parse_day, parse_time
from registry.evidence import usage
from registry.evidence.openlineage_events import parse_event
from registry.sdk.client import Client
from registry.store.db import session_factory, session_scope

TOO_EARLY = "0001-01-01T00:00:00+14:00"
TOO_LATE = "9999-12-31T23:00:00-05:00"


# ----- the parser ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T12:00:00+00:00", datetime(2026, 11, 1, 12, tzinfo=UTC)),
    ("2026-11-01T14:30:00.250+02:00", datetime(2026, 11, 1, 12, 30, 0, 250_000, tzinfo=UTC)),
    ("2026-11-01 02:00:00-05:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
])
def test_iso_times_are_read_as_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected and parsed.tzinfo is UTC


def test_naive_times_are_refused_unless_read_as_utc_and_dates_are_midnight() -> None:
    with pytest.raises(InvalidTime, match=r"'2026-11-01T12:00:00' has no timezone"):
        parse_time("2026-11-01T12:00:00")
    with pytest.raises(InvalidTime, match="no timezone"):
        parse_time("2026-11-01")
    assert parse_time("2026-11-01T12:00:00", assume_utc=True) == datetime(2026, 11, 1, 12,
                                                                          tzinfo=UTC)
    assert parse_time("2026-11-01", assume_utc=True) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01", dates=True) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(InvalidTime, match="no timezone"):
        parse_time("2026-11-01T12:00:00", dates=True)  # dates only, not naive times


@pytest.mark.parametrize("text", [TOO_EARLY, TOO_LATE])
def test_times_outside_the_utc_range_are_refused_naming_the_value(text: str) -> None:
    for options in ({}, {"assume_utc": True}, {"dates": True}):
        with pytest.raises(InvalidTime) as caught:
            parse_time(text, **options)  # type: ignore[arg-type]
        assert repr(text) in str(caught.value) and "out of range" in str(caught.value)
    with pytest.raises(InvalidTime, match="out of range"):
        as_utc(datetime.fromisoformat(text))


def test_errors_name_the_value_and_are_value_errors_and_featreg_errors() -> None:
    for text in ("yesterday", "2026-13-01T00:00:00Z", ""):
        with pytest.raises(InvalidTime) as caught:
            parse_time(text)
        assert repr(text) in str(caught.value)
        assert isinstance(caught.value, ValueError) and isinstance(caught.value, FeatregError)
    assert "month must be in 1..12" in _message(lambda: parse_time("2026-13-01T00:00:00Z"))


def test_days() -> None:
    assert parse_day("2026-11-01") == date(2026, 11, 1)
    for text in ("2026-11-1", "20261101", "2026-02-30", "2026-11-01T00:00:00Z"):
        assert repr(text) in _message(lambda text=text: parse_day(text))


def test_as_utc_converts_aware_values_and_refuses_naive_ones() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert as_utc(datetime(2026, 11, 1, 14, tzinfo=plus_two)) == datetime(2026, 11, 1, 12,
                                                                          tzinfo=UTC)
    assert "no timezone" in _message(lambda: as_utc(datetime(2026, 11, 1)))
    assert as_utc(datetime(2026, 11, 1), assume_utc=True).tzinfo is UTC


def _message(call: object) -> str:
    with pytest.raises(InvalidTime) as caught:
        call()  # type: ignore[operator]
    return str(caught.value)


# ----- every way in refuses a time out of range cleanly ---------------------------------------


def _catalog(client: Client) -> None:
    with client.batch():
        client.register_team("growth", contact="growth@example.com")
        client.register_feature("age", owner="growth", dtype="int", description="Age.")
        client.register_consumer("ctr", kind="model", owner="growth", features=["age"])


def test_a_usage_line_out_of_range_is_a_bad_line_and_the_rest_is_taken(
        client: Client, cli: object, tmp_path: Path, db_url: str) -> None:
    _catalog(client)
    good = {"ts": "2026-11-01T10:00:00Z", "consumer": "ctr", "feature": "age"}
    lines = [good, {**good, "ts": TOO_EARLY}, {**good, "ts": "2026-11-01T11:00:00+02:00"},
             {**good, "ts": TOO_LATE}, good]  # names already seen: the fast path's lines too
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = cli("usage", "ingest", str(path))  # type: ignore[operator]
    assert result.exit_code == 0, result.output
    assert "3 events taken, 2 rejected" in result.output
    with session_scope(session_factory(db_url)) as session:
        rejected = usage.rejected_lines(session)
    assert [r.line_number for r in rejected] == [2, 4]
    assert all("out of range" in r.reason for r in rejected)
    assert TOO_EARLY in rejected[0].reason


def test_the_cli_refuses_now_out_of_range_as_a_usage_error(cli: object) -> None:
    for args in (("analyze", "--now", TOO_EARLY), ("usage", "summary", "--now", TOO_LATE),
                 ("analyze", "--now", "yesterday")):
        result = cli(*args)  # type: ignore[operator]
        assert result.exit_code == 2, result.output
        assert "--now" in result.output and args[-1] in result.output


def test_an_importance_csv_ts_out_of_range_is_a_problem_of_its_line(
        client: Client, cli: object, tmp_path: Path) -> None:
    _catalog(client)
    path = tmp_path / "importance.csv"
    path.write_text(f"consumer,feature,importance,ts\nctr,age,0.5,{TOO_EARLY}\n")
    result = cli("importance", "ingest", str(path))  # type: ignore[operator]
    assert result.exit_code == 1
    assert "importance.csv:2" in result.output and "out of range" in result.output


def test_the_sdk_and_api_refuse_times_out_of_range(client: Client) -> None:
    _catalog(client)
    early = datetime.fromisoformat(TOO_EARLY)
    with pytest.raises(InvalidInput, match="out of range"):
        client.report_importance("ctr", {"age": 1.0}, ts=early)
    with pytest.raises(InvalidInput, match="out of range"):
        client.log_usage("ctr", "age", ts=early)
    app = create_app({"DATABASE_URL": client.url, "TESTING": True})
    http: FlaskClient = authorize(app.test_client(), client.url)
    answer = http.post("/api/v1/usage", json=[{"ts": TOO_EARLY, "consumer": "ctr",
                                                "feature": "age"}])
    assert answer.status_code == 400 and "out of range" in answer.get_data(as_text=True)
    answer = http.post("/api/v1/importance", json={"consumer": "ctr", "values": {"age": 1},
                                                   "ts": TOO_LATE})
    assert answer.status_code == 400 and "out of range" in answer.get_data(as_text=True)
    assert http.get(f"/api/v1/usage/features?now={TOO_LATE}").status_code == 400
    event = {"eventTime": TOO_EARLY, "eventType": "START", "run": {"runId": "r"},
             "job": {"namespace": "n", "name": "j"}}
    answer = http.post("/api/v1/lineage", json=event)
    assert answer.status_code == 400 and "out of range" in answer.get_data(as_text=True)


def test_openlineage_event_time_out_of_range_is_malformed() -> None:
    event = {"eventTime": TOO_EARLY, "eventType": "START", "run": {"runId": "r"},
             "job": {"namespace": "n", "name": "j"}, "inputs": [], "outputs": []}
    with pytest.raises(InvalidInput) as caught:
        parse_event(event)
    assert caught.value.problems[0].message.startswith("eventTime: ")
    assert "out of range" in caught.value.problems[0].message
