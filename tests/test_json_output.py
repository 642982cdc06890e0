"""JSON responses come from orjson but mean what Flask's own provider writes: the same
values after parsing, keys sorted, dates as HTTP dates, and what orjson cannot write (an
integer beyond 64 bits) written by the standard library."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from featreg.web.json_output import FastJSONProvider
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES: list[Any] = [
    {"b": 1, "a": [1.5, None, True], "é": "ünïcode → \u2028", "nested": {"z": 1, "y": 2}},
    {"when": datetime(2026, 12, 3, 15, 4, 5, tzinfo=UTC), "day": date(2026, 12, 3)},
    {"point": Point(3, "p"), "id": uuid.UUID(int=7), "money": Decimal("1.10")},
    {"html": Markup("<b>x</b>"), "tuple": (1, 2), "big": 10**30, "negative": -(2**70)},
    [{"n": 2**63 - 1}, {"n": -(2**63)}],
]


def _both(value: Any) -> tuple[bytes, bytes]:
    app = Flask(__name__)
    with app.app_context():
        fast = FastJSONProvider(app).response(value).get_data()
        plain = DefaultJSONProvider(app).response(value).get_data()
    return fast, plain


def test_the_same_json_as_flasks_provider() -> None:
    for value in VALUES:
        fast, plain = _both(value)
        assert json.loads(fast) == json.loads(plain), value
        assert fast.endswith(b"\n")


def test_keys_are_sorted_as_flask_sorts_them() -> None:
    fast, _ = _both({"b": 1, "a": {"d": 1, "c": 2}})
    assert fast == b'{"a":{"c":2,"d":1},"b":1}\n'


def test_dates_are_http_dates_as_in_flask() -> None:
    fast, _ = _both({"d": datetime(2026, 12, 3, 15, 4, 5, tzinfo=UTC)})
    assert json.loads(fast) == {"d": "Thu, 03 Dec 2026 15:04:05 GMT"}


def test_the_api_answers_through_it(sqlite_url: str) -> None:
    from featreg.web import create_app

    app = create_app({"DATABASE_URL": sqlite_url, "TESTING": True})
    assert isinstance(app.json, FastJSONProvider)
    response = app.test_client().get("/api/v1/features?q=nothing-matches-this")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json()["items"] == []
