"""The SDK's HTTP transport: `registry.connect("http://host:port")` against `featreg serve`.

`HttpClient` has the public methods of `registry.sdk.client.Client` and returns the same values
(plans as `Plan` values, dicts as the direct client builds them) and raises the same errors
(`InvalidInput` with the same problems, `NotFound`, `FeatregError` with the same message): the
server runs the same services and sends errors in the wire format below. Standard library only
(urllib), so the client adds no dependency.

The wire format (plans, errors, the actor header) is `registry.wire`, shared with the web API.
"""

from __future__ import annotations

import builtins
import json
import mimetypes
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.catalog.plan import Plan
from registry.core.errors import FeatregError, InvalidInput, Problem
from registry.core.timeparse import parse_time
from registry.sdk.registration import Registrations
from registry.wire import ACTOR_HEADER, plan_from_dict, raise_for_error

if TYPE_CHECKING:
    from registry.evidence.usage_events import DailyCount, UsageEvent

__all__ = ["HttpClient"]

UPLOAD_CHUNK = 1 << 20


def _json_default(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _parse_time(value: Any) -> Any:
    return parse_time(value, assume_utc=True) if isinstance(value, str) else value


# ----- the client ----------------------------------------------------------------------------


class HttpClient(Registrations):
    """The SDK over HTTP. Same methods, values and errors as `registry.sdk.client.Client`."""

    def __init__(self, url: str, *, actor: str | None = None, token: str | None = None,
                 timeout: float = 120.0) -> None:
        from registry.catalog.service import resolve_actor

        self.url = url.rstrip("/")
        self.actor = resolve_actor(actor)
        self.token = token or os.environ.get("FEATREG_TOKEN") or None
        self.timeout = timeout
        self._batch = None
        self._bundle = None

    # -- transport ----------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                 body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None
                 ) -> Any:
        url = self.url + "/api/v1" + path
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        all_headers = {ACTOR_HEADER: self.actor, "Accept": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data = json.dumps(body, default=_json_default).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                raw = exc.read()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"message": raw.decode("utf-8", "replace")[:500] or exc.reason}
            raise_for_error(exc.code, payload)
        except urllib.error.URLError as exc:
            raise FeatregError(f"cannot reach Featreg at {self.url}: {exc.reason}") from exc

    @staticmethod
    def _quote(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    # -- registration -------------------------------------------------------------------------
    def _apply(self, entries: Sequence[tuple[str, Mapping[str, Any]]], label: str) -> Plan:
        body = {"label": label[:255],
                "entries": [{"kind": kind, "fields": dict(fields)} for kind, fields in entries]}
        return plan_from_dict(self._request("POST", "/register", body=body))

    # -- lifecycle ----------------------------------------------------------------------------
    def _lifecycle(self, feature: str, action: str, **fields: Any) -> Plan:
        path = f"/features/{self._quote(feature)}/{action}"
        return plan_from_dict(self._request("POST", path, body=fields))

    def deprecate(self, feature: str, *, sunset: date, replacement: str | None = None,
                  reason: str | None = None) -> Plan:
        return self._lifecycle(feature, "deprecate", sunset=sunset, replacement=replacement,
                               reason=reason)

    def undeprecate(self, feature: str) -> Plan:
        return self._lifecycle(feature, "undeprecate")

    def retire(self, feature: str, *, reason: str | None = None) -> Plan:
        return self._lifecycle(feature, "retire", reason=reason)

    # -- reading ------------------------------------------------------------------------------
    def get(self, name: str) -> dict[str, Any]:
        """A feature, source, consumer or team as a dict (with `type` and `name`)."""
        result: dict[str, Any] = self._request("GET", f"/catalog/objects/{self._quote(name)}")
        return result

    def list(self, *, owner: str | None = None, status: str | None = None,
             tag: str | None = None, search: str | None = None) -> builtins.list[dict[str, Any]]:
        result: builtins.list[dict[str, Any]] = self._request(
            "GET", "/catalog/features",
            query={"owner": owner, "status": status, "tag": tag, "search": search})
        return result

    def search(self, text: str) -> builtins.list[dict[str, Any]]:
        return self.list(search=text)

    def lineage(self, name: str, *, upstream: bool = False, depth: int | None = None
                ) -> builtins.list[dict[str, Any]]:
        direction = "upstream" if upstream else "downstream"
        listing = self._request("GET", f"/lineage/{self._quote(name)}",
                                query={"direction": direction, "depth": depth})
        return list(listing[direction])

    def impact(self, source: str) -> builtins.list[dict[str, Any]]:
        return list(self._request("GET", f"/impact/{self._quote(source)}")["nodes"])

    def closure(self, consumer: str) -> builtins.list[dict[str, Any]]:
        return list(self._request("GET", f"/closure/{self._quote(consumer)}")["nodes"])

    def history(self, name: str | None = None, limit: int = 200) -> builtins.list[dict[str, Any]]:
        result: builtins.list[dict[str, Any]] = self._request(
            "GET", "/catalog/history", query={"name": name, "limit": limit})
        return result

    # -- evidence -----------------------------------------------------------------------------
    def _post_usage(self, items: Sequence[UsageEvent | DailyCount]) -> int:
        """Events and daily counts to ``POST /api/v1/usage`` in their JSON shapes."""
        body = [item.to_dict() for item in items]
        return int(self._request("POST", "/usage", body=body)["reads"])

    def log_usage(self, consumer: str, features: str | builtins.list[str], count: int = 1,
                  ts: datetime | None = None) -> int:
        """Record ``count`` reads of each feature by ``consumer`` (at ``ts``, default now);
        returns the reads recorded."""
        from datetime import UTC

        from registry.evidence.usage_events import UsageEvent

        names = (features,) if isinstance(features, str) else tuple(features)
        return self._post_usage([UsageEvent(ts or datetime.now(UTC), consumer, names, count)])

    def usage_logger(self, consumer: str, *, flush_interval: float = 5.0,
                     max_events: int = 10_000) -> Any:
        """A batching logger (`registry.evidence.usage_logger.UsageLogger`) that posts its
        daily counts to the server as they are (see `Client.usage_logger`)."""
        from registry.evidence.usage_logger import UsageLogger

        return UsageLogger(consumer, self._post_usage, flush_interval=flush_interval,
                           max_events=max_events)

    def report_importance(self, consumer: str, values: Mapping[str, float], *,
                          method: str | None = None, metric: str | None = None,
                          ts: datetime | None = None) -> int:
        """Store one importance report of ``consumer``; returns its id."""
        body = {"consumer": consumer, "values": dict(values), "method": method,
                "metric": metric, "ts": ts}
        return int(self._request("POST", "/importance", body=body)["report_id"])

    def latest_importance(self, consumer: str | None = None) -> dict[str, dict[str, Any]]:
        """The latest importance report per consumer (or of one consumer), as dicts."""
        result: dict[str, dict[str, Any]] = self._request(
            "GET", "/importance/latest", query={"consumer": consumer})
        return result

    def feature_usage(self, feature: str | None = None, *, now: datetime | None = None
                      ) -> dict[str, dict[str, Any]]:
        """Last read, reads in 7/30/90 days and readers per feature, counted back from now."""
        result: dict[str, dict[str, Any]] = self._request(
            "GET", "/usage/features",
            query={"feature": feature, "now": now.isoformat() if now else None})
        for row in result.values():
            row["last_read"] = _parse_time(row.get("last_read"))
        return result

    def add_snapshot(self, path: str, *, label: str | None = None, consumer: str | None = None,
                     name: str | None = None, taken_at: datetime | None = None
                     ) -> dict[str, Any]:
        """Upload a data snapshot (Parquet or CSV) taken at ``taken_at`` (aware; default
        now); returns its summary."""
        file = Path(path)
        if not file.is_file():
            raise InvalidInput([Problem(f"{file.resolve()}: no such file")])
        fields = {"label": label, "consumer": consumer, "name": name or file.stem,
                  "taken_at": taken_at.isoformat() if taken_at is not None else None}
        body, content_type, length = _multipart(fields, file)
        result: dict[str, Any] = self._request(
            "POST", "/snapshots", data=body,
            headers={"Content-Type": content_type, "Content-Length": str(length)})
        result["created_at"] = _parse_time(result.get("created_at"))
        result["taken_at"] = _parse_time(result.get("taken_at"))
        return result


def _multipart(fields: Mapping[str, str | None], file: Path) -> tuple[Any, str, int]:
    """A multipart/form-data body streamed from disk: (chunks, content type, length)."""
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'
        .encode() for key, value in fields.items() if value is not None)
    filename = file.name.replace('"', "_")
    mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n').encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = os.path.getsize(file)

    def chunks() -> Iterator[bytes]:
        yield head
        with file.open("rb") as stream:
            while block := stream.read(UPLOAD_CHUNK):
                yield block
        yield tail

    return chunks(), f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail)
