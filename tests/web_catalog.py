"""A small catalog for the web tests, loaded the way users load one (SDK, usage events,
importance reports, a snapshot file, a real analysis run), with hostile content on purpose.

Hostile content: a feature description with <script>, an <img onerror>, a javascript: link and
raw HTML; a principal (observed reader) whose name is a <script> tag; a read of a "feature"
whose name is an <img onerror> tag; a principal with a slash in its name (OpenLineage style).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

import registry
from registry.evidence.importance import report_importance
from registry.evidence.snapshots import add_snapshot
from registry.evidence.usage import record_usage
from registry.evidence.usage_events import UsageEvent
from registry.findings.run import run_analysis
from registry.store import models as m
from registry.store.db import get_engine, session_factory, session_scope

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
XSS_DESC = '<script>alert("xss-desc")</script>'
XSS_IMG = '<img src=x onerror=alert("xss-img")>'
XSS_PRINCIPAL = '<script>alert("xss-principal")</script>'
XSS_FEATURE_READ = '<img src=y onerror=alert("xss-read")>'
SLASH_PRINCIPAL = "airflow/nightly_export"
BULK = 60  # features beyond the hand-made ones (pagination)

DESCRIPTION = f"""## Clicks in 7 days

Clicks by the user in the **last 7 days**, from `warehouse.clicks`.

{XSS_DESC}

{XSS_IMG}

[a harmless link](https://example.com/clicks) and [a hostile one](javascript:alert("xss-link"))

<div onclick="alert('xss-div')">raw html</div>
"""


@dataclass(frozen=True)
class WebCatalog:
    url: str
    now: datetime


def build_catalog(url: str, tmp_path: Path) -> WebCatalog:
    """Register, observe, measure and analyse the fixture catalog in the database at `url`."""
    m.Base.metadata.create_all(get_engine(url))  # tables of later migrations, if not yet there
    client = registry.connect(url, actor="alice")
    created = date(2025, 6, 1)
    with client.batch("fixture catalog"):
        client.register_team("growth", contact="growth@example.com",
                             description="Growth *team*.")
        client.register_team("ads", contact="ads@example.com")
        client.register_team("risk", contact="risk@example.com")
        client.register_source("warehouse.clicks", kind="table", owner="growth",
                               description="Raw click log.")
        client.register_source("ctr_model.scores", kind="model_output", owner="ads",
                               produced_by="ctr_model")
        client.register_feature("user_clicks_7d", owner="growth", dtype="int",
                                description=DESCRIPTION, sources=["warehouse.clicks"],
                                tags=["ads", "clicks"], created=created)
        client.register_feature("user_clicks_30d", owner="growth", dtype="int",
                                description="Clicks in 30 days.", sources=["warehouse.clicks"],
                                depends_on=["user_clicks_7d"], tags=["clicks"], created=created)
        client.register_feature("user_clicks_30d_copy", owner="growth", dtype="float",
                                description="A copy of the 30-day clicks.",
                                sources=["warehouse.clicks"], created=created)
        client.register_feature("ctr_score_feature", owner="ads", dtype="float",
                                description="Yesterday's CTR score of the user.",
                                sources=["ctr_model.scores"], created=created)
        client.register_feature("old_feature", owner="risk", dtype="string",
                                sources=["warehouse.clicks"], created=created)
        for i in range(BULK):
            client.register_feature(f"bulk_feature_{i:03d}", owner="risk", dtype="float",
                                    description=f"Bulk feature number {i}.",
                                    tags=["bulk"], created=created)
        client.register_consumer("ctr_model", kind="model", owner="ads",
                                 features=["user_clicks_7d", "ctr_score_feature"],
                                 produces=["ctr_model.scores"])
        client.register_consumer("fraud_model", kind="model", owner="risk",
                                 features=["user_clicks_30d", "old_feature"])
    client.deprecate("old_feature", sunset=date(2026, 6, 30), replacement="user_clicks_30d",
                     reason="superseded")
    # a configuration change, for the consumer diff
    client.register_consumer("fraud_model", kind="model", owner="risk",
                             features=["user_clicks_30d", "user_clicks_30d_copy", "old_feature"])

    sessions = session_factory(url)
    events = []
    for day in range(30):
        ts = NOW - timedelta(days=day, hours=1)
        events.append(UsageEvent(ts, "ctr_model", ("user_clicks_7d", "ctr_score_feature"), 40))
        if day < 5:  # a registered consumer reading a feature it never declared
            events.append(UsageEvent(ts, "ctr_model", ("user_clicks_30d",), 1))
        events.append(UsageEvent(ts, "fraud_model", ("user_clicks_30d", "old_feature"), 7))
        if day % 3 == 0:
            events.append(UsageEvent(ts, XSS_PRINCIPAL, ("user_clicks_7d",), 5))
            events.append(UsageEvent(ts, SLASH_PRINCIPAL, ("user_clicks_30d",
                                                           XSS_FEATURE_READ), 2))
    rng = np.random.default_rng(7)
    signal = rng.normal(size=400)
    frame = pd.DataFrame({"user_clicks_30d": signal,
                          "user_clicks_30d_copy": signal + rng.normal(scale=0.01, size=400),
                          "user_clicks_7d": rng.normal(size=400)})
    snapshot = tmp_path / "snapshot.csv"
    frame.to_csv(snapshot, index=False)
    with session_scope(sessions) as session:
        record_usage(session, events)
        for weeks, share in ((8, 0.30), (4, 0.25), (0, 0.20)):
            report_importance(session, "ctr_model",
                              {"user_clicks_7d": share, "ctr_score_feature": 1 - share},
                              method="permutation", ts=NOW - timedelta(weeks=weeks))
        report_importance(session, "fraud_model",
                          {"user_clicks_30d": 0.9, "old_feature": 0.1,
                           "user_clicks_30d_copy": 0.001},
                          ts=NOW - timedelta(days=3))
        add_snapshot(session, snapshot, name="fixture-snapshot")
    with session_scope(sessions) as session:
        run_analysis(session, now=NOW)
    return WebCatalog(url=url, now=NOW)


def finding_id(url: str, kind: str, subject: str) -> int:
    with session_scope(session_factory(url)) as session:
        found = session.scalar(select(m.Finding.id).where(m.Finding.kind == kind,
                                                          m.Finding.subject_name == subject))
    assert found is not None, f"the fixture should produce a {kind} finding about {subject}"
    return int(found)


def load_seeds(url: str, seeds: Path, now: datetime) -> None:
    """Load the demo organisation of seeds/ the way `featreg demo` does, analyse it, write the
    weekly report, and add one hostile feature (a <script> description, read by a principal
    whose name is a <script> tag)."""
    from registry.catalog.service import apply_spec
    from registry.catalog.spec import load_spec
    from registry.evidence.importance import ingest_importance_csv
    from registry.evidence.usage import ingest_usage_file

    m.Base.metadata.create_all(get_engine(url))
    sessions = session_factory(url)
    with session_scope(sessions) as session:
        apply_spec(session, load_spec([seeds / "catalog"]), actor="seed-loader")
    with session_scope(sessions) as session:
        ingest_usage_file(session, seeds / "usage.jsonl")
        ingest_importance_csv(session, seeds / "importance.csv")
    client = registry.connect(url, actor="mallory")
    owner = next(iter(client.list()))["owner"]
    client.register_feature("xss_probe", owner=owner, dtype="int", description=DESCRIPTION)
    with session_scope(sessions) as session:
        record_usage(session, [UsageEvent(now - timedelta(days=1), XSS_PRINCIPAL,
                                          ("xss_probe",), 3)])
    with session_scope(sessions) as session:
        run_analysis(session, now=now)
    try:
        from registry.reports.service import generate_weekly_report
    except ImportError:  # reports not built yet
        return
    with session_scope(sessions) as session:
        generate_weekly_report(session, now=now)
