"""Synthetic organisations with planted technical debt, and the ground truth to score detectors.

`generate_world` builds a deterministic world: a catalog in the YAML spec shape of DESIGN.md,
usage events, importance rows and a labelled data snapshot. Every finding kind of DESIGN.md is
planted on purpose, with margins wide enough that a correct detector finds exactly the planted
debts (see seeds/README.md for the list of what is planted and why each margin holds).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

DEFAULT_NOW = datetime(2026, 11, 16, tzinfo=UTC)
FINDING_KINDS = (
    "legacy", "bundled", "epsilon", "correlated", "undeclared_consumer", "feedback_loop",
    "deprecated_in_use", "undocumented", "underutilized_source",
)
_WINDOWS = {"1d": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90}
_SNAPSHOT_DTYPES = ("int", "float", "bool", "category")
_MAX_HIGH, _MAX_LOW = 9, 5  # per reporting model: keeps every high share >= 3.5%
_LOW_SHARE = (0.001, 0.004)  # planted low shares, far below the 1% threshold
_CATEGORIES = {
    "country": ["us", "de", "fr", "br", "in", "jp", "gb"],
    "channel": ["organic", "paid_search", "referral", "social", "email"],
    "adcat": ["retail", "travel", "finance", "gaming", "auto"],
    "intent": ["navigational", "informational", "transactional"],
    "tier": ["low", "medium", "high"],
    "os": ["ios", "android", "web"],
    "itemcat": ["books", "electronics", "fashion", "home", "toys"],
}
# team -> sources (name, kind, entity, description, measures) and consumers ("name:kind ...").
# A measure is "name:dtype:dist"; a leading "=" means one feature without a time window.
_VOCAB: dict[str, tuple[list[tuple[str, str, str, str, str]], str]] = {
    "growth": ([
        ("warehouse.user_sessions", "table", "user", "Sessionised web and app traffic.",
         "sessions:int:count pageviews:int:count session_minutes:float:duration "
         "active_days:int:days =signup_channel:category:channel"),
        ("kafka.app_events", "stream", "user", "Client events from the iOS and Android apps.",
         "app_opens:int:count push_opens:int:count screen_views:int:count"),
        ("s3.crm_export", "file", "user", "Nightly CSV export from the CRM vendor.",
         "email_opens:int:count email_clicks:int:count =is_email_verified:bool:bool"),
        ("api.geoip", "api", "user", "GeoIP lookups, cached for 24 hours.",
         "distinct_ips:int:count =country:category:country =last_seen_at:timestamp:ts"),
    ], "churn_model:model ltv_model:model push_timing_model:model referral_model:model "
       "onboarding_service:service growth_kpi_dashboard:dashboard lifecycle_email_job:job "
       "growth_exploration:notebook retention_dashboard:dashboard signup_funnel:dashboard"),
    "ads": ([
        ("kafka.ad_events", "stream", "ad", "Impression and click beacons from the ad server.",
         "impressions:int:count clicks:int:count video_views:int:count"),
        ("warehouse.conversions", "table", "ad", "Attributed conversions (last click, 7 days).",
         "conversions:int:count conversion_value:float:amount =creative_embedding:vector:vec"),
        ("warehouse.campaign_spend", "table", "advertiser", "Daily spend and auction outcomes.",
         "spend:float:amount bids_won:int:count bids_lost:int:count budget_use:float:rate"),
        ("api.brand_safety", "api", "ad", "Third-party brand-safety classification.",
         "=brand_safety_score:float:score =is_flagged:bool:bool =content_class:category:adcat"),
    ], "ctr_model:model conversion_model:model bid_optimizer:model ad_relevance_model:model "
       "ad_ranking_service:service advertiser_dashboard:dashboard budget_pacing_job:job "
       "attribution_notebook:notebook ads_revenue_dashboard:dashboard creative_review:service"),
    "search": ([
        ("kafka.search_events", "stream", "query", "Search requests and result clicks.",
         "searches:int:count result_clicks:int:count reformulations:int:count"),
        ("warehouse.search_sessions", "table", "query", "Search sessions joined with dwell time.",
         "dwell_seconds:float:duration zero_results:int:count top3_clicks:int:count"),
        ("s3.query_annotations", "file", "query", "Weekly human annotations of head queries.",
         "=intent:category:intent =is_navigational:bool:bool =text_embedding:vector:vec "
         "=language:string:str"),
        ("warehouse.doc_stats", "table", "doc", "Per-document engagement statistics.",
         "views:int:count clicks:int:count freshness_hours:float:duration"),
    ], "search_ranker:model query_intent_model:model autocomplete_model:model "
       "spelling_model:model search_api_service:service search_quality_dashboard:dashboard "
       "index_refresh_job:job relevance_notebook:notebook query_trends_dashboard:dashboard"),
    "risk": ([
        ("warehouse.transactions", "table", "merchant", "Settled card transactions.",
         "txn_count:int:count txn_amount:float:amount refunds:int:count "
         "refund_amount:float:amount"),
        ("kafka.payment_events", "stream", "card", "Authorisation requests and responses.",
         "auth_attempts:int:count declines:int:count distinct_merchants:int:count "
         "decline_rate:float:rate"),
        ("s3.chargeback_reports", "file", "merchant", "Chargeback files from the acquirer.",
         "chargebacks:int:count disputes:int:count chargeback_rate:float:rate"),
        ("api.device_fingerprint", "api", "card", "Device-fingerprint vendor API.",
         "device_count:int:count =has_ip_mismatch:bool:bool =risk_tier:category:tier"),
    ], "fraud_model:model chargeback_model:model credit_limit_model:model "
       "account_takeover_model:model checkout_risk_service:service risk_ops_dashboard:dashboard "
       "merchant_review_job:job risk_analysis:notebook disputes_dashboard:dashboard"),
    "platform": ([
        ("kafka.client_telemetry", "stream", "device", "Client telemetry from every app.",
         "crashes:int:count errors:int:count latency_ms_p95:float:duration api_calls:int:count"),
        ("warehouse.device_registry", "table", "device", "Registered devices and attributes.",
         "=os_family:category:os =app_version:string:str =is_rooted:bool:bool "
         "=registered_at:timestamp:ts"),
        ("api.network_quality", "api", "device", "Network-quality probes from the edge.",
         "bandwidth_mbps:float:amount packet_loss:float:rate reconnects:int:count"),
    ], "crash_predictor:model anomaly_detector:model capacity_model:model "
       "device_health_service:service capacity_dashboard:dashboard telemetry_export_job:job "
       "oncall_dashboard:dashboard platform_notebook:notebook sla_report_job:job"),
    "payments": ([
        ("warehouse.payouts", "table", "seller", "Payouts to marketplace sellers.",
         "payouts:int:count payout_amount:float:amount failed_payouts:int:count"),
        ("kafka.ledger_events", "stream", "account", "Double-entry ledger events.",
         "ledger_entries:int:count balance_change:float:amount"),
        ("api.fx_rates", "api", "account", "FX rates from the treasury service.",
         "=fx_exposure:float:score =home_currency:category:country"),
    ], "payout_risk_model:model fx_forecast_model:model payment_routing:service "
       "payments_dashboard:dashboard reconciliation_job:job settlement_notebook:notebook"),
    "recs": ([
        ("kafka.item_interactions", "stream", "item", "Views, carts and purchases per item.",
         "views:int:count add_to_carts:int:count purchases:int:count shares:int:count"),
        ("warehouse.item_catalog", "table", "item", "Nightly item catalog snapshot.",
         "=price:float:amount =category:category:itemcat =image_embedding:vector:vec"),
        ("s3.review_dumps", "file", "item", "Weekly dump of customer reviews.",
         "reviews:int:count review_score:float:score"),
    ], "item_recs_model:model similar_items_model:model homepage_service:service "
       "recs_dashboard:dashboard candidate_gen_job:job"),
}
# team -> a source that only carries dead or useless features (underutilized_source).
_UNDERUSED = {
    "growth": ("warehouse.legacy_crm_accounts", "table", "user",
               "Accounts of the CRM we migrated away from in 2024.",
               "=crm_segment:category:channel =crm_lifetime_value:float:amount "
               "=is_crm_churned:bool:bool"),
    "ads": ("s3.partner_feed_v1", "file", "ad", "First partner quality feed (now an API).",
            "=partner_quality_score:float:score =partner_category:category:adcat"),
    "search": ("kafka.clickstream_v0", "stream", "query", "Pre-2024 clickstream topic.",
               "=v0_clicks:int:count =v0_dwell_seconds:float:duration"),
    "risk": ("warehouse.risk_rules_2023", "table", "merchant", "Hits of the 2023 rule engine.",
             "=rule_hits:int:count =rule_score:float:score =is_rule_blocked:bool:bool"),
    "platform": ("api.legacy_geo_service", "api", "device", "In-house geo service, frozen.",
                 "=geo_region:category:country =geo_confidence:float:score"),
    "payments": ("s3.bank_statements_v1", "file", "account", "Statements of the old bank.",
                 "=statement_lines:int:count =statement_balance:float:amount"),
    "recs": ("warehouse.recs_ab_2024", "table", "item", "Frozen tables of a 2024 A/B test.",
             "=ab_uplift:float:score =ab_bucket:category:tier"),
}
_INDEX_WORD = {"user": "engagement", "ad": "quality", "advertiser": "health",
               "query": "satisfaction", "doc": "popularity", "merchant": "risk",
               "card": "velocity", "device": "health", "seller": "reliability",
               "account": "activity", "item": "popularity"}
_TRANSFORMS = {"scaled": "rescaled to the unit range by the nightly job",
               "norm": "normalised by the population mean",
               "smoothed": "smoothed with a 3-day moving average",
               "winsorized": "winsorized at the 1st and 99th percentiles"}


@dataclass
class _Feature:
    name: str
    team: str
    dtype: str
    dist: str
    entity: str
    summary: str
    measure: str = ""
    sources: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    window: str | None = None
    created: date | None = None
    role: str = "healthy"
    description: str | None = None
    documented: bool = True
    status: str = "active"
    sunset: date | None = None
    replacement: str | None = None
    bundle: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass
class _Consumer:
    name: str
    team: str
    kind: str
    reports: bool = False
    features: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    high: int = 0
    low: int = 0


@dataclass(eq=False)
class World:
    """A generated organisation: catalog spec, evidence, and the debts planted in it."""

    spec: dict[str, list[dict[str, Any]]]
    usage: list[dict[str, Any]]
    importance: list[dict[str, Any]]
    snapshot: pd.DataFrame
    snapshot_consumer: str
    truth: dict[str, Any]
    now: datetime = DEFAULT_NOW

    def write(self, directory: str | Path) -> None:
        """Write catalog/*.yaml, usage.jsonl, importance.csv, snapshot.parquet and truth.json."""
        out = Path(directory)
        catalog = out / "catalog"
        catalog.mkdir(parents=True, exist_ok=True)
        for stale in catalog.glob("*.yaml"):
            stale.unlink()
        _dump_yaml(catalog / "teams.yaml", {"teams": self.spec["teams"]})
        for team in self.spec["teams"]:
            part = {section: [item for item in self.spec[section] if item["owner"] == team["name"]]
                    for section in ("sources", "features", "consumers")}
            _dump_yaml(catalog / f"{team['name']}.yaml", {k: v for k, v in part.items() if v})
        with open(out / "usage.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(line) + "\n" for line in self.usage)
        with open(out / "importance.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, ["consumer", "feature", "importance", "method",
                                             "metric", "ts"], lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.importance)
        self.snapshot.to_parquet(out / "snapshot.parquet", index=False, compression="zstd")
        with open(out / "truth.json", "w", encoding="utf-8") as handle:
            json.dump(_jsonable(self.truth), handle, indent=1, sort_keys=True)
            handle.write("\n")


def generate_world(n_features: int = 150, n_consumers: int = 20, n_teams: int = 5,
                   snapshot_rows: int = 3000, usage_lines: int | None = None, seed: int = 0,
                   now: datetime = DEFAULT_NOW) -> World:
    """Build a deterministic world; `usage_lines` defaults to 50 per feature."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    catalog = _Catalog(n_features, n_consumers, n_teams, seed, now.astimezone(UTC))
    usage_rng, importance_rng, snapshot_rng = (np.random.default_rng(s)
                                               for s in catalog.evidence_seeds)
    return World(
        spec=catalog.spec(),
        usage=_usage(catalog, usage_lines or 50 * n_features, usage_rng),
        importance=_importance(catalog, importance_rng),
        snapshot=_snapshot(catalog, snapshot_rows, snapshot_rng),
        snapshot_consumer=catalog.snapshot_consumer.name,
        truth=catalog.truth(),
        now=catalog.now,
    )


def read_truth(path: str | Path) -> dict[str, Any]:
    """Load truth.json back into sets (feedback loops as tuples) like `World.truth`."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    truth: dict[str, Any] = dict(raw)
    for kind in FINDING_KINDS + ("new_unread",):
        truth[kind] = {tuple(item) if isinstance(item, list) else item for item in raw[kind]}
    truth["undeclared_reads"] = {p: set(v) for p, v in raw["undeclared_reads"].items()}
    return truth


class _Catalog:
    """Plants the catalog (sources, consumers, features, declarations) and records the truth."""

    def __init__(self, n_features: int, n_consumers: int, n_teams: int, seed: int,
                 now: datetime) -> None:
        if not 5 <= n_teams <= len(_VOCAB):
            raise ValueError(f"n_teams must be between 5 and {len(_VOCAB)}")
        seeds = np.random.SeedSequence(seed).spawn(4)
        self.rng = np.random.default_rng(seeds[0])
        self.evidence_seeds = seeds[1:]
        self.now, self.today = now, now.date()
        self.k = max(3, n_features // 80)  # instances of each planted debt
        self.teams = list(_VOCAB)[:n_teams]
        self.sources: dict[str, dict[str, Any]] = {}
        self.team_sources: dict[str, list[str]] = {team: [] for team in self.teams}
        self.features: dict[str, _Feature] = {}
        self.consumers: dict[str, _Consumer] = {}
        self.weights: dict[tuple[str, str], float] = {}  # reporting declarations; 0 = low share
        self.groups: dict[str, int] = {}  # feature -> correlated group sharing one latent column
        self.signal: list[str] = []  # the features the snapshot label depends on
        self.generic: list[_Feature] = []
        self.unread: set[tuple[str, str]] = set()  # declared but not read
        self.stale: list[tuple[str, str]] = []  # read only more than 100 days ago
        self.undeclared: dict[str, list[str]] = {}
        self.keeper: dict[str, str] = {}
        self.legacy_reason: dict[str, str] = {}
        self.loops: list[tuple[str, ...]] = []
        self.underused: list[str] = []
        self.pool = self._candidates()
        self._make_consumers(n_consumers)
        for team in self.teams:  # a healthy anchor keeps each source out of underutilized_source
            for source in self.team_sources[team]:
                anchor = self._take(pred=_built_on(source))
                self.generic.append(self._add(anchor, "healthy"))
        self._plant_loops()
        self._plant_snapshot_consumer()
        self._plant_correlated()
        self._plant_legacy()
        self._plant_bundles()
        self._plant_epsilon()
        self._plant_underused()
        self._plant_deprecated_and_undocumented()
        self._fill_generic(n_features)
        self._plant_undeclared()
        self._finish()

    def created(self, name: str) -> date:
        created = self.features[name].created
        assert created is not None
        return created

    # -- building blocks ------------------------------------------------------------------
    def _candidates(self) -> list[_Feature]:
        pool: list[_Feature] = []
        for team in self.teams:
            for name, kind, entity, text, measures in _VOCAB[team][0]:
                self._add_source(name, kind, team, text)
                self.team_sources[team].append(name)
                pool.extend(_measure_features(team, name, entity, measures))
        return [pool[i] for i in self.rng.permutation(len(pool))]

    def _add_source(self, name: str, kind: str, team: str, text: str,
                    produced_by: str | None = None) -> None:
        self.sources[name] = {"name": name, "kind": kind, "owner": team, "description": text}
        if produced_by:
            self.sources[name]["produced_by"] = produced_by

    def _make_consumers(self, n_consumers: int) -> None:
        vocab = {t: [tok.split(":") for tok in _VOCAB[t][1].split()] for t in self.teams}
        pools: dict[str, list[tuple[str, str]]] = {}
        for i in range(max(len(v) for v in vocab.values())):
            for team in self.teams:
                if i < len(vocab[team]):
                    pools.setdefault(vocab[team][i][1], []).append((vocab[team][i][0], team))
        n_loop = max(1, self.k - 2) + 2 + (3 if self.k >= 4 else 0)
        n_models = max(n_loop + 5, round(0.45 * n_consumers))
        if n_consumers < n_models + 5:
            raise ValueError(f"n_consumers must be at least {n_models + 5} for n_features")
        others = ["dashboard", "service", "job", "dashboard", "notebook", "service"]
        for i in range(n_consumers):
            kind = "model" if i < n_models else others[i % len(others)]
            if kind != "model" and not pools.get(kind):
                kind = next((k for k in others if pools.get(k)), kind)
            if pools.get(kind):
                name, team = pools[kind].pop(0)
            else:
                team = self.teams[i % len(self.teams)]
                name = f"{team}_{kind}_{i}"
            self.consumers[name] = _Consumer(name, team, kind)
        models = [c for c in self.consumers.values() if c.kind == "model"]
        self.snapshot_consumer = next((c for c in models if c.name == "fraud_model"), models[0])
        rest = [c for c in models if c is not self.snapshot_consumer]
        self.never_reader = rest.pop(int(self.rng.integers(len(rest))))
        for model in rest:
            model.reports = True
        self.reporting = rest
        self.loop_models = [rest[i] for i in self.rng.permutation(len(rest))[:n_loop]]
        self.readers = [c for c in self.consumers.values() if c.kind != "model"]

    def _take(self, team: str | None = None,
              pred: Callable[[_Feature], bool] | None = None) -> _Feature:
        for strict in (True, False):
            for i, candidate in enumerate(self.pool):
                if (pred is None or pred(candidate)) and (not strict or team in (None,
                                                                                  candidate.team)):
                    return self.pool.pop(i)
        raise ValueError("the feature vocabulary is exhausted: lower n_features or add teams")

    def _add(self, feature: _Feature, role: str, age: tuple[int, int] = (60, 720)) -> _Feature:
        if feature.name in self.features:
            raise AssertionError(f"duplicate feature {feature.name}")
        feature.role = role
        if feature.created is None:
            feature.created = self.today - timedelta(days=self._int(*age))
        self.features[feature.name] = feature
        return feature

    def _variant(self, base: _Feature, suffix: str, note: str, source: str | None = None,
                 derived: bool = False) -> _Feature:
        return _Feature(f"{base.name}_{suffix}", base.team, base.dtype, base.dist, base.entity,
                        f"{base.summary} {note}", measure=base.measure, window=base.window,
                        sources=[] if derived else [source or base.sources[0]],
                        depends_on=[base.name] if derived else [])

    def _other_source(self, base: _Feature, exclude: Sequence[str] = ()) -> str:
        options = [s for s in self.team_sources[base.team]
                   if s not in base.sources and s not in exclude]
        options = [s for s in options if self.sources[s]["kind"] != "api"] or options
        return options[self._int(0, len(options) - 1)]

    def _later(self, base: _Feature, min_age: int = 20) -> tuple[int, int]:
        """An age range that makes a feature newer than `base`."""
        assert base.created is not None
        return min_age, max(min_age, (self.today - base.created).days)

    def _group(self, *features: _Feature) -> None:
        group = len(set(self.groups.values())) + 1
        for feature in features:
            self.groups[feature.name] = group

    def _int(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def _weight(self, low: float = 1.0, high: float = 2.0) -> float:
        return round(float(self.rng.uniform(low, high)), 3)

    def _host(self, n_high: int, n_low: int, team: str,
              exclude: Sequence[_Consumer] = ()) -> _Consumer | None:
        fits = [c for c in self.reporting if c.high + n_high <= _MAX_HIGH
                and c.low + n_low <= _MAX_LOW and c not in exclude]
        return min(fits, key=lambda c: (c.team != team, c.high + c.low), default=None)

    def _must_host(self, n_high: int, n_low: int, team: str) -> _Consumer:
        host = self._host(n_high, n_low, team)
        if host is None:
            raise ValueError("too few reporting models for the planted debts: raise n_consumers")
        return host

    def _reader(self, team: str, exclude: Sequence[str] = ()) -> _Consumer:
        return min((c for c in self.readers if c.name not in exclude),
                   key=lambda c: (c.team != team, len(c.features)))

    def _declare(self, consumer: _Consumer, feature: _Feature, weight: float | None = None) -> None:
        consumer.features.append(feature.name)
        if consumer.reports:
            if weight is None:
                raise AssertionError(f"{consumer.name} reports importance: weight needed")
            self.weights[(consumer.name, feature.name)] = weight
            consumer.high, consumer.low = consumer.high + (weight > 0), consumer.low + (weight == 0)

    def _declare_anywhere(self, feature: _Feature, prefer_model: bool) -> None:
        host = self._host(1, 0, feature.team) if prefer_model else None
        if host is not None:
            self._declare(host, feature, self._weight())
        else:
            self._declare(self._reader(feature.team), feature)

    # -- planted debts ----------------------------------------------------------------------
    def _model_output_feature(self, model: _Consumer, label: str) -> _Feature:
        source = f"{model.name}.predictions"
        if source not in self.sources:
            self._add_source(source, "model_output", model.team,
                             f"Predictions written by `{model.name}` after each scoring run.",
                             produced_by=model.name)
            model.produces.append(source)
        summary = f"Score of `{model.name}` for the entity, read back from `{source}`."
        feature = _Feature(f"{model.name}_{label}", model.team, "float", "score", "entity",
                           summary, measure="score", sources=[source])
        return self._add(feature, "healthy", (90, 400))

    def _plant_loops(self) -> None:
        sizes = [1] * max(1, self.k - 2) + [2] + ([3] if self.k >= 4 else [])
        models = iter(self.loop_models)
        for size in sizes:
            cycle = [next(models) for _ in range(size)]
            for i, model in enumerate(cycle):  # model -> its predictions -> feature -> next model
                label = "score_7d_avg" if size == 1 else "prediction_latest"
                self._declare(cycle[(i + 1) % size], self._model_output_feature(model, label),
                              self._weight())
            names = [model.name for model in cycle]
            start = names.index(min(names))
            self.loops.append(tuple(names[start:] + names[:start]))
        quiet = [m for m in self.reporting if m not in self.loop_models][:2]
        for model in quiet:  # model outputs read by services only: no loop
            feature = self._model_output_feature(model, "score_latest")
            self._declare(self._reader(model.team), feature)

    def _plant_snapshot_consumer(self) -> None:
        model = self.snapshot_consumer
        for _ in range(4):
            signal = self._add(self._take(model.team, _is_signal), "healthy")
            self._declare(model, signal)
            self.signal.append(signal.name)
        base = self._add(self._take(model.team, _is_correlatable), "healthy")
        twin = self._variant(base, "norm", f"Derived from `{base.name}`: {_TRANSFORMS['norm']}.",
                             derived=True)
        twin.created = base.created  # registered together: neither supersedes the other
        self._add(twin, "healthy")
        self._group(base, twin)
        self.keeper[twin.name] = base.name
        self.signal.append(base.name)
        for feature in (base, twin):
            self._declare(model, feature)
        for _ in range(2):  # computed importance ~0: epsilon without any reported importance
            self._declare(model, self._add(self._take(model.team, _is_signal), "epsilon"))

    def _derived_twin(self, base: _Feature, suffix: str) -> _Feature:
        note = f"Derived from `{base.name}`: {_TRANSFORMS[suffix]}."
        return self._add(self._variant(base, suffix, note, derived=True), "healthy",
                         self._later(base))

    def _source_twin(self, base: _Feature, role: str = "healthy", suffix: str | None = None,
                     exclude: Sequence[str] = (), age: tuple[int, int] | None = None) -> _Feature:
        source = self._other_source(base, exclude)
        suffix = suffix or f"from_{source.split('.')[-1]}"
        note = f"Recomputed from `{source}` by the {base.team} team."
        return self._add(self._variant(base, suffix, note, source=source), role,
                         age or (60, 720))

    def _plant_correlated(self) -> None:
        transforms = list(_TRANSFORMS)
        n_pairs = max(1, self.k // 2)
        for i in range(n_pairs):  # derived twin: lineage hops decide, whatever the importance
            base = self._add(self._take(pred=_is_correlatable), "healthy")
            twin = self._derived_twin(base, transforms[self._int(0, len(transforms) - 1)])
            host = self._must_host(2, 0, base.team)
            self._declare(host, base, 1.0 if i % 2 == 0 else 2.5)
            self._declare(host, twin, 2.5 if i % 2 == 0 else 1.0)
            self._group(base, twin)
            self.keeper[twin.name] = base.name
        for _ in range(n_pairs):  # the same metric from two pipelines: importance decides
            base = self._add(self._take(pred=_is_correlatable), "healthy")
            twin = self._source_twin(base)
            host = self._must_host(2, 0, base.team)
            self._declare(host, base, 3.0)
            self._declare(host, twin, 1.0)
            self._group(base, twin)
            self.keeper[twin.name] = base.name
        base = self._add(self._take(pred=_is_correlatable), "healthy")  # cluster of three: hops
        picks = self.rng.permutation(len(transforms))[:2]
        twins = [self._derived_twin(base, transforms[i]) for i in picks]
        host = self._must_host(3, 0, base.team)
        for feature in (base, *twins):
            self._declare(host, feature, self._weight(1.0, 2.5))
        self.keeper.update({twin.name: base.name for twin in twins})
        self._group(base, *twins)
        base = self._add(self._take(pred=_is_correlatable), "healthy")  # three: importance
        first = self._source_twin(base)
        second = self._source_twin(base, exclude=first.sources)
        host = self._must_host(3, 0, base.team)
        for feature, weight in ((base, 3.0), (first, 1.2), (second, 1.0)):
            self._declare(host, feature, weight)
        self.keeper.update({first.name: base.name, second.name: base.name})
        self._group(base, first, second)
        # group case: a newer twin adds < 1% on its own; the pair carries the importance
        base = self._add(self._take(pred=_is_correlatable), "healthy", (200, 720))
        twin = self._source_twin(base, age=(20, 150))
        host = self._must_host(1, 1, base.team)
        self._declare(host, base, 3.0)
        self._declare(host, twin, 0.0)
        self._group(base, twin)
        self.keeper[twin.name] = base.name
        for _ in range(max(2, self.k // 2 + 1)):  # superseded: an older copy, < 1% share
            old = self._add(self._take(pred=_is_correlatable), "superseded", (500, 720))
            new = self._add(self._variant(old, "v2", "Version 2: drops bot traffic and late "
                                          "events."), "healthy", (100, 250))
            host = self._must_host(1, 1, old.team)
            self._declare(host, old, 0.0)
            self._declare(host, new, 2.0)
            self._group(old, new)
            self.keeper[old.name] = new.name
            self.legacy_reason[old.name] = "superseded"

    def _plant_legacy(self) -> None:
        for i in range(self.k):  # dead: nothing read it for 100+ days
            feature = self._add(self._take(), "dead", (400, 720))
            self.legacy_reason[feature.name] = "dead"
            if i % 3 == 0:
                self._declare(self.never_reader, feature)
            elif i % 3 == 1:
                reader = self._reader(feature.team)
                self._declare(reader, feature)
                self.unread.add((reader.name, feature.name))
                self.stale.append((reader.name, feature.name))
        for i in range(2):  # created days ago and not read yet: inside the grace period
            feature = self._add(self._take(), "new", (2, 6))
            if i == 0:
                reader = self._reader(feature.team)
                self._declare(reader, feature)
                self.unread.add((reader.name, feature.name))

    def _plant_bundles(self) -> None:
        n_low = max(1, (self.k + 1) // 3)
        words = ["signals", "launch", "revamp", "expansion", "refresh", "migration"]
        for i in range(n_low + max(1, self.k // 3)):
            healthy = i >= n_low
            team = self.teams[self._int(0, len(self.teams) - 1)]
            members = [self._take(team) for _ in range(4 if healthy else 5)]
            created = self.today - timedelta(days=self._int(90, 600))
            name = f"{team}-{words[i % len(words)]}-{created.year}q{(created.month + 2) // 3}"
            host = self._must_host(len(members) if healthy else 2, 0 if healthy else 3, team)
            for j, feature in enumerate(members):
                carries = healthy or j < 2
                feature.created, feature.bundle = created, name
                self._add(feature, "healthy" if carries else "bundled")
                self._declare(host, feature, self._weight(1.2, 2.5) if carries else 0.0)

    def _plant_epsilon(self) -> None:
        for i in range(self.k):
            feature = self._add(self._take(), "epsilon")
            host = self._must_host(0, 1, feature.team)
            self._declare(host, feature, 0.0)
            second = self._host(0, 1, feature.team, exclude=[host]) if i % 3 == 2 else None
            if second is not None:
                self._declare(second, feature, 0.0)

    def _plant_underused(self) -> None:
        teams = [team for team in self.teams if team in _UNDERUSED]
        for i, index in enumerate(self.rng.permutation(len(teams))[: max(2, self.k - 2)]):
            team = teams[index]
            name, kind, entity, text, measures = _UNDERUSED[team]
            self._add_source(name, kind, team, text)
            self.underused.append(name)
            for j, feature in enumerate(_measure_features(team, name, entity, measures)):
                if j == 1 and i % 2 == 0:
                    self._add(feature, "epsilon")
                    self._declare(self._must_host(0, 1, team), feature, 0.0)
                    continue
                self._add(feature, "dead", (400, 720))
                self.legacy_reason[feature.name] = "dead"
                if j == 0:
                    self._declare(self.never_reader, feature)

    def _plant_deprecated_and_undocumented(self) -> None:
        for i in range(self.k):
            feature = self._add(self._take(), "deprecated", (200, 700))
            feature.status = "deprecated"
            feature.sunset = self.today + timedelta(days=-12 if i % 3 == 0 else self._int(20, 120))
            self._declare_anywhere(feature, prefer_model=i % 2 == 0)
        for i in range(self.k):
            feature = self._add(self._take(), "undocumented")
            feature.documented = False
            self._declare_anywhere(feature, prefer_model=i % 2 == 1)

    # -- healthy bulk, undeclared readers, finishing touches ----------------------------------
    def _fill_generic(self, n_features: int) -> None:
        remaining = n_features - len(self.features)
        if remaining < 10:
            raise ValueError(f"n_features must be at least {len(self.features) + 10}")
        n_base = min(remaining - remaining // 4, len(self.pool))
        self.generic += [self._add(self._take(), "healthy") for _ in range(n_base)]
        self._derive(n_features - len(self.features))
        for feature in self.generic:
            host = self._host(1, 0, feature.team) if self.rng.random() < 0.4 else None
            if host is not None:
                self._declare(host, feature, self._weight())
            else:
                self._declare(self._reader(feature.team), feature)
            if self.rng.random() < 0.25:  # a second, non-reporting reader
                others = [c for c in self.readers if feature.name not in c.features]
                self._declare(others[self._int(0, len(others) - 1)], feature)
        for consumer in self.readers + self.reporting:  # every report has >= 2 carriers
            while (consumer.high if consumer.reports else len(consumer.features)) < 2:
                options = [f for f in self.generic if f.name not in consumer.features]
                self._declare(consumer, options[self._int(0, len(options) - 1)], 1.0)

    def _derive(self, count: int) -> None:
        by_window: dict[tuple[str, str], list[_Feature]] = {}
        by_measure: dict[tuple[str, str], dict[str, _Feature]] = {}
        for feature in self.generic:
            if feature.dist in ("count", "days", "amount", "duration") and feature.window:
                by_window.setdefault((feature.entity, feature.window), []).append(feature)
                key = (feature.entity, feature.measure)
                by_measure.setdefault(key, {})[feature.window] = feature
        level1 = [_derived(f"{e}_{a.measure}_per_{b.measure}_{w}", [a, b],
                           f"Ratio of `{a.name}` to `{b.name}` (0 when `{b.name}` is 0).")
                  for (e, w), group in by_window.items() for a, b in combinations(group, 2)]
        level1 += [_derived(f"{e}_{m}_trend_7d_30d", [ws["7d"], ws["30d"]],
                            f"Daily rate over 7 days divided by the daily rate over 30 days "
                            f"of `{e}_{m}`: above 1 when the {e} is trending up.")
                   for (e, m), ws in by_measure.items() if "7d" in ws and "30d" in ws]
        level1 = [level1[i] for i in self.rng.permutation(len(level1))]
        taken = level1[: count - count // 6]
        by_entity: dict[tuple[str, str], list[_Feature]] = {}
        for feature in taken:
            if feature.window:
                by_entity.setdefault((feature.entity, feature.window), []).append(feature)
        level2 = [_derived(f"{e}_{_INDEX_WORD.get(e, 'composite')}_index_{w}", parents[:3],
                           f"Composite {_INDEX_WORD.get(e, 'composite')} index of the {e}, "
                           f"the mean of {len(parents[:3])} standardised ratios.")
                  for (e, w), parents in by_entity.items() if len(parents) >= 2]
        chosen = taken + level2[: count - len(taken)]
        chosen += level1[len(taken): len(taken) + count - len(chosen)]
        if len(chosen) < count:
            raise ValueError("the feature vocabulary is exhausted: lower n_features or add teams")
        for feature in chosen:
            parents = [self.features[name] for name in feature.depends_on]
            newest = max(p.created for p in parents if p.created is not None)
            age = (self.today - newest).days
            self.generic.append(self._add(feature, "healthy", (max(20, age - 60), max(20, age))))

    def _plant_undeclared(self) -> None:
        settled = [f.name for f in self.generic if f.created and f.created
                   <= self.today - timedelta(days=30)]
        picks = iter([settled[i] for i in self.rng.permutation(len(settled))])
        for i, index in enumerate(self.rng.permutation(len(self.readers))[: max(1, self.k - 2)]):
            reader = self.readers[index]
            names: list[str] = []
            while len(names) < 1 + i % 2:
                name = next(picks)
                if name not in reader.features:
                    names.append(name)
            self.undeclared[reader.name] = names
        deprecated = next(f.name for f in self.features.values() if f.role == "deprecated")
        self.undeclared["adhoc-notebook-jane"] = [next(picks) for _ in range(3)] + [deprecated]
        self.undeclared["etl-backfill-tmp"] = [next(picks) for _ in range(2)]

    def _finish(self) -> None:
        for feature in self.features.values():
            if feature.status == "deprecated":
                options = [f for f in self.generic if f.team == feature.team] or self.generic
                same = [f for f in options if f.entity == feature.entity] or options
                feature.replacement = same[self._int(0, len(same) - 1)].name
        for name in sorted(self.features):
            feature = self.features[name]
            kinds = {self.sources[s]["kind"] for s in feature.sources}
            feature.tags = [feature.team] + [tag for tag, on in (
                ("realtime", "stream" in kinds), ("batch", bool(kinds & {"table", "file"})),
                ("external", "api" in kinds), ("model-output", "model_output" in kinds),
                ("derived", bool(feature.depends_on)), (f"window-{feature.window}",
                                                        bool(feature.window)),
                ("experimental", feature.role == "new")) if on]
            if feature.documented:
                feature.description = _describe(feature, self.rng)

    # -- outputs ------------------------------------------------------------------------------
    def spec(self) -> dict[str, list[dict[str, Any]]]:
        consumers = []
        for name in sorted(self.consumers):
            consumer = self.consumers[name]
            entry: dict[str, Any] = {"name": name, "kind": consumer.kind, "owner": consumer.team,
                                     "features": sorted(consumer.features)}
            if consumer.produces:
                entry["produces"] = sorted(consumer.produces)
            consumers.append(entry)
        return {
            "teams": [{"name": team, "contact": f"{team}-ml@example.com"} for team in self.teams],
            "sources": [self.sources[name] for name in sorted(self.sources)],
            "features": [_feature_entry(self.features[name]) for name in sorted(self.features)],
            "consumers": consumers,
        }

    def truth(self) -> dict[str, Any]:
        def role(*roles: str) -> set[str]:
            return {f.name for f in self.features.values() if f.role in roles}

        return {
            "legacy": set(self.legacy_reason), "legacy_reason": dict(self.legacy_reason),
            "bundled": role("bundled"), "epsilon": role("epsilon"),
            "bundle_of": {f.name: f.bundle for f in self.features.values() if f.role == "bundled"},
            "correlated": set(self.keeper), "correlated_keeper": dict(self.keeper),
            "undeclared_consumer": set(self.undeclared),
            "undeclared_reads": {p: set(names) for p, names in self.undeclared.items()},
            "feedback_loop": set(self.loops), "deprecated_in_use": role("deprecated"),
            "undocumented": {f.name for f in self.features.values() if not f.documented},
            "underutilized_source": set(self.underused), "new_unread": role("new"),
            "snapshot_consumer": self.snapshot_consumer.name,
        }


# -- evidence -------------------------------------------------------------------------------------
def _usage(catalog: _Catalog, n_lines: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Reads of every healthy declaration in the last week, then filler over 120 days."""
    picker = random.Random(int(rng.integers(2**62)))
    readable: dict[str, list[str]] = {}
    for consumer in catalog.consumers.values():
        if consumer is not catalog.never_reader:
            names = [n for n in consumer.features if (consumer.name, n) not in catalog.unread]
            readable[consumer.name] = names + catalog.undeclared.get(consumer.name, [])
    for principal, names in catalog.undeclared.items():
        readable.setdefault(principal, list(names))
    readable = {p: names for p, names in readable.items() if names}
    now = catalog.now
    events: list[tuple[datetime, str, list[str]]] = []
    for principal, names in readable.items():
        for start in range(0, len(names), 8):
            events.append((now - timedelta(hours=picker.uniform(1, 144)), principal,
                           names[start: start + 8]))
    for principal, name in catalog.stale:
        events += [(now - timedelta(days=picker.uniform(100, 120)), principal, [name])
                   for _ in range(picker.randint(1, 3))]
    principals = sorted(readable)
    weights = [len(readable[p]) if p in catalog.consumers else 1 for p in principals]
    extra = max(0, n_lines - len(events))
    for principal, age in zip(picker.choices(principals, weights, k=extra),
                              rng.uniform(1 / 24, 120, extra), strict=True):
        when = now - timedelta(days=float(age))
        names = [n for n in readable[principal] if catalog.created(n) <= when.date()]
        if not names:
            when, names = now - timedelta(days=float(age) % 6 + 0.05), readable[principal]
        size = 1 if picker.random() < 0.6 else picker.randint(2, 6)
        picked = sorted(picker.sample(range(len(names)), min(size, len(names))))
        events.append((when, principal, [names[i] for i in picked]))
    events.sort(key=lambda event: (event[0], event[1]))
    return [_usage_line(when, principal, names, picker) for when, principal, names in events]


def _usage_line(when: datetime, principal: str, names: list[str],
                picker: random.Random) -> dict[str, Any]:
    style = picker.random()
    if style < 0.7:
        ts = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif style < 0.8:
        ts = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    else:
        offset = timezone(timedelta(hours=2 if style < 0.92 else -5))
        ts = when.replace(microsecond=0).astimezone(offset).isoformat()
    line: dict[str, Any] = {"ts": ts, "consumer": principal}
    if len(names) == 1 and picker.random() < 0.75:
        line["feature"] = names[0]
    else:
        line["features"] = names
    if picker.random() < 0.8:
        line["count"] = picker.randint(1, 40)
    return line


def _importance(catalog: _Catalog, rng: np.random.Generator) -> list[dict[str, Any]]:
    """A latest report (now - 20 h) and an older one (a month earlier) per reporting model."""
    methods = {"gain": ("gain", 500, 5000), "shap": ("logloss", 0.2, 2.0),
               "permutation": ("auc", 0.05, 0.3), "leave-one-out": ("ndcg", 0.01, 0.1)}
    latest = catalog.now - timedelta(hours=20)
    rows: list[dict[str, Any]] = []
    for consumer in sorted(catalog.reporting, key=lambda c: c.name):
        method = list(methods)[int(rng.integers(len(methods)))]
        metric, low, high = methods[method]
        scale = float(rng.uniform(low, high))
        weights = {n: catalog.weights[(consumer.name, n)] for n in sorted(consumer.features)}
        lows = {n: float(rng.uniform(*_LOW_SHARE)) for n, w in weights.items() if w == 0}
        for when, jitter in ((latest - timedelta(days=31), 0.05), (latest, 0.0)):
            present = {n: w for n, w in weights.items()
                       if catalog.created(n) <= when.date()}
            high_weights = {n: w * float(rng.uniform(1 - jitter, 1 + jitter))
                            for n, w in present.items() if w > 0}
            if not high_weights:
                continue
            low_shares = {n: lows[n] * float(rng.uniform(1 - 2 * jitter, 1 + 2 * jitter))
                          for n in present if n in lows}
            rest = (1 - sum(low_shares.values())) / sum(high_weights.values())
            shares = {**low_shares, **{n: w * rest for n, w in high_weights.items()}}
            rows += [{"consumer": consumer.name, "feature": name,
                      "importance": float(f"{shares[name] * scale:.6g}"), "method": method,
                      "metric": metric, "ts": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
                     for name in sorted(shares)]
    rows.sort(key=lambda row: (row["ts"], row["consumer"], row["feature"]))
    return rows


def _snapshot(catalog: _Catalog, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """Independent columns, except planted groups that share a latent; a binary label."""
    latents = {group: rng.gamma(6.0, 1.0, rows) for group in sorted(set(catalog.groups.values()))}
    columns: dict[str, Any] = {}
    for name in sorted(catalog.features):
        feature = catalog.features[name]
        if feature.dtype not in _SNAPSHOT_DTYPES:
            continue
        group = catalog.groups.get(name)
        if group is not None:
            latent, slope = latents[group], float(rng.uniform(0.5, 20))
            noise = rng.normal(0, 0.03 * slope * latent.std(), rows)
            columns[name] = np.round(slope * latent + float(rng.uniform(0, 5)) + noise, 4)
            continue
        columns[name] = _sample(feature, rows, rng)
        if (feature.dtype == "float" and feature.role == "healthy"
                and name not in catalog.signal and rng.random() < 0.15):
            columns[name][rng.random(rows) < 0.02] = np.nan
    frame = pd.DataFrame(columns)
    signal = frame[catalog.signal].to_numpy(dtype=float)
    standard = (signal - signal.mean(axis=0)) / signal.std(axis=0)
    signs = rng.choice([-1.0, 1.0], len(catalog.signal))
    logit = 1.5 * standard @ (signs * rng.uniform(0.8, 1.2, len(catalog.signal)))
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame


def _sample(feature: _Feature, rows: int, rng: np.random.Generator) -> Any:
    days = _WINDOWS.get(feature.window or "30d", 30)
    if feature.dist == "count":
        return rng.poisson(rng.uniform(0.2, 2.0) * days**0.7, rows)
    if feature.dist == "days":
        return rng.binomial(days, rng.uniform(0.1, 0.8), rows)
    if feature.dist == "duration":
        return np.round(rng.gamma(2.0, rng.uniform(1, 20) * days**0.5, rows), 2)
    if feature.dist == "amount":
        return np.round(rng.lognormal(rng.uniform(1, 4) + np.log(days) / 2, 0.8, rows), 2)
    if feature.dist == "ratio":
        return np.round(rng.lognormal(0.0, 0.5, rows), 4)
    if feature.dist in ("rate", "score"):
        return np.round(rng.beta(rng.uniform(1, 4), rng.uniform(2, 20), rows), 4)
    if feature.dist == "bool":
        return rng.random(rows) < rng.uniform(0.05, 0.5)
    values = _CATEGORIES[feature.dist]
    probabilities = rng.dirichlet(np.full(len(values), 2.0))
    return pd.Categorical(rng.choice(values, rows, p=probabilities), categories=values)


# -- vocabulary helpers ---------------------------------------------------------------------------
def _measure_features(team: str, source: str, entity: str, measures: str) -> list[_Feature]:
    features = []
    for token in measures.split():
        measure, dtype, dist = token.lstrip("=").split(":")
        for window in [None] if token.startswith("=") else list(_WINDOWS):
            name = f"{entity}_{measure}" + (f"_{window}" if window else "")
            features.append(_Feature(name, team, dtype, dist, entity,
                                     _summary(entity, measure, dist, window), measure=measure,
                                     sources=[source], window=window))
    return features


def _summary(entity: str, measure: str, dist: str, window: str | None) -> str:
    words = measure.replace("_", " ")
    span = ""
    if window:
        span = " over the last day" if window == "1d" else f" over the last {window[:-1]} days"
    return {
        "count": f"Number of {words} per {entity}{span}.",
        "days": f"Number of {words} per {entity}{span}.",
        "duration": f"Total {words} per {entity}{span}.",
        "amount": f"Sum of {words} per {entity}{span}, in EUR.",
        "rate": f"Share of {words} for the {entity}{span}, between 0 and 1.",
        "score": f"{words.capitalize()} of the {entity}, between 0 and 1.",
        "bool": f"Whether the {entity} {words}.",
        "ts": f"When the {entity} was {words.removesuffix(' at')} (UTC).",
        "vec": f"{words.capitalize()} of the {entity}: a 128-dimensional float vector.",
        "str": f"{words.capitalize()} of the {entity}, as reported by the client.",
    }.get(dist, f"{words.capitalize()} of the {entity}, one of a small set of values.")


def _derived(name: str, parents: list[_Feature], summary: str) -> _Feature:
    first = parents[0]
    dist = "score" if "_index_" in name else "ratio"
    return _Feature(name, first.team, "float", dist, first.entity, summary, measure=name,
                    window=first.window, depends_on=[p.name for p in parents])


def _built_on(source: str) -> Callable[[_Feature], bool]:
    return lambda feature: feature.sources == [source]


def _is_signal(feature: _Feature) -> bool:
    return feature.dtype in ("int", "float") and feature.window not in (None, "1d")


def _is_correlatable(feature: _Feature) -> bool:
    return feature.dist in ("amount", "duration") and feature.window is not None


def _describe(feature: _Feature, rng: np.random.Generator) -> str:
    """A Markdown description in one of four house styles."""
    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    lineage = ", ".join(f"`{name}`" for name in feature.sources or feature.depends_on)
    facts = {
        "Owner": f"{feature.team} team",
        "Built from": lineage,
        "Refresh": pick(["hourly", "daily at 02:00 UTC", "streaming — under 5 min of lag",
                         "weekly, on Mondays"]),
        "Missing values": pick(["filled with `0`", "left null (about 2 % of rows)",
                                "imputed with the population median",
                                "never null (≥ 99.9 % coverage)"]),
    }
    link = (f"See the [{feature.team} feature guide]"
            f"(https://wiki.example.com/{feature.team}/features#{feature.name}).")
    bullets = "\n".join(f"- **{key}:** {value}" for key, value in facts.items())
    style = int(rng.integers(4))
    if style == 0:
        body = f"{feature.summary} {link}"
    elif style == 1:
        body = f"{feature.summary}\n\n{bullets}\n\n{link}"
    elif style == 2:
        table = "\n".join(f"| {key.lower()} | {value} |" for key, value in facts.items())
        body = f"{feature.summary}\n\n| property | value |\n|---|---|\n{table}\n\n{link}"
    else:
        title = feature.name.replace("_", " ").capitalize()
        body = f"## {title}\n\n{feature.summary}\n\n{bullets}\n\n{_code(feature)}\n\n{link}"
    if feature.status == "deprecated":
        body = (f"> **Deprecated:** use `{feature.replacement}` instead "
                f"(sunset {feature.sunset}).\n\n{body}")
    return body


def _code(feature: _Feature) -> str:
    if feature.depends_on:
        args = [f"row.{name}" for name in feature.depends_on]
        if len(args) == 2:
            expression = f"{args[0]} / {args[1]} if {args[1]} else 0.0"
        else:
            expression = f"mean([{', '.join(args)}])" if len(args) > 2 else f"scale({args[0]})"
        return f"```python\ndef {feature.name}(row):\n    return {expression}\n```"
    aggregate = {"count": "COUNT(*)", "amount": "SUM(amount)", "duration": "SUM(duration)",
                 "rate": "AVG(is_hit)"}.get(feature.dist, "ANY_VALUE(value)")
    where = ""
    if feature.window:
        where = f"\nWHERE event_date >= CURRENT_DATE - INTERVAL '{feature.window[:-1]}' DAY"
    return (f"```sql\nSELECT {feature.entity}_id,\n       {aggregate} AS {feature.name}\n"
            f"FROM {feature.sources[0]}{where}\nGROUP BY {feature.entity}_id\n```")


def _feature_entry(feature: _Feature) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": feature.name, "owner": feature.team, "dtype": feature.dtype}
    if feature.description is not None:
        entry["description"] = feature.description
    if feature.sources:
        entry["sources"] = list(feature.sources)
    if feature.depends_on:
        entry["depends_on"] = list(feature.depends_on)
    if feature.bundle:
        entry["bundle"] = feature.bundle
    entry.update(tags=list(feature.tags), created=feature.created, status=feature.status)
    if feature.sunset:
        entry["sunset"] = feature.sunset
    if feature.replacement:
        entry["replacement"] = feature.replacement
    return entry


class _CatalogDumper(yaml.SafeDumper):
    """Markdown as literal blocks, name lists inline, mappings as blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    inline = all(isinstance(item, str) for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=inline)


_CatalogDumper.add_representer(str, _represent_str)
_CatalogDumper.add_representer(list, _represent_list)


def _dump_yaml(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(data, handle, Dumper=_CatalogDumper, sort_keys=False, allow_unicode=True,
                  width=100, default_flow_style=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m registry.synthetic --out seeds --seed 0` writes a world to a folder."""
    parser = argparse.ArgumentParser(description="Write a synthetic organisation with planted "
                                                 "technical debt and its ground truth.")
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--features", type=int, default=150)
    parser.add_argument("--consumers", type=int, default=20)
    parser.add_argument("--teams", type=int, default=5)
    parser.add_argument("--rows", type=int, default=3000, help="snapshot rows")
    parser.add_argument("--usage-lines", type=int, default=None)
    args = parser.parse_args(argv)
    world = generate_world(args.features, args.consumers, args.teams, args.rows,
                           args.usage_lines, args.seed)
    world.write(args.out)


if __name__ == "__main__":
    main()
