"""Registration through the SDK, shared by both transports (database and HTTP).

A transport implements `_apply(entries, label) -> Plan`; everything else — the register_*
signatures, batches and bundles — is defined once here, so both clients stay identical.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Self

from registry.catalog.plan import Plan
from registry.core.errors import FeatregError


class Registrations:
    """register_team/source/feature/consumer, `batch()` and `bundle()` over `_apply`."""

    _batch: builtins.list[tuple[str, dict[str, Any]]] | None = None
    _bundle: str | None = None

    def _apply(self, entries: Sequence[tuple[str, Mapping[str, Any]]], label: str) -> Plan:
        raise NotImplementedError

    def _register(self, kind: str, fields: dict[str, Any]) -> Plan | None:
        fields = {k: v for k, v in fields.items() if v is not None}
        if kind == "features" and self._bundle and "bundle" not in fields:
            fields["bundle"] = self._bundle
        if self._batch is not None:
            self._batch.append((kind, fields))
            return None
        return self._apply([(kind, fields)], label=f"sdk {kind} {fields.get('name')}")

    def register_team(self, name: str, *, contact: str | None = None,
                      description: str | None = None) -> Plan | None:
        return self._register("teams", {"name": name, "contact": contact,
                                        "description": description})

    def register_source(self, name: str, *, kind: str, owner: str, description: str | None = None,
                        produced_by: str | None = None, freshness: str | None = None,
                        readiness: str | None = None) -> Plan | None:
        return self._register("sources", {"name": name, "kind": kind, "owner": owner,
                                          "description": description, "produced_by": produced_by,
                                          "freshness": freshness, "readiness": readiness})

    def register_feature(
        self, name: str, *, owner: str, dtype: str, description: str | None = None,
        sources: builtins.list[str] | None = None, depends_on: builtins.list[str] | None = None,
        bundle: str | None = None, tags: builtins.list[str] | None = None,
        created: date | datetime | str | None = None, cost: float | None = None,
        expect: Mapping[str, Any] | None = None,
    ) -> Plan | None:
        """Register (or redeclare whole) a feature. Lifecycle fields are kept as stored."""
        return self._register("features", {
            "name": name, "owner": owner, "dtype": dtype, "description": description,
            "sources": sources, "depends_on": depends_on, "bundle": bundle, "tags": tags,
            "created": created, "cost": cost, "expect": dict(expect) if expect else None,
        })

    def register_consumer(
        self, name: str, *, kind: str, owner: str, features: builtins.list[str] | None = None,
        produces: builtins.list[str] | None = None, description: str | None = None,
        version: str | None = None, stage: str | None = None,
    ) -> Plan | None:
        return self._register("consumers", {
            "name": name, "kind": kind, "owner": owner, "features": features,
            "produces": produces, "description": description, "version": version,
            "stage": stage,
        })

    @contextmanager
    def batch(self, label: str = "sdk batch") -> Iterator[Self]:
        """Register several objects as one change set, atomically, at the end of the block."""
        if self._batch is not None:
            raise FeatregError("batches do not nest")
        self._batch = []
        try:
            yield self
            entries, self._batch = self._batch, None
            if entries:
                self._apply(entries, label=label)
        finally:
            self._batch = None

    @contextmanager
    def bundle(self, name: str) -> Iterator[Self]:
        """Register the features of the block as one bundle named `name`, in one change set."""
        self._bundle = name
        try:
            with self.batch(label=f"bundle {name}"):
                yield self
        finally:
            self._bundle = None
