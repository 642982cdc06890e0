"""The vocabulary a synthetic organisation is built from: teams, their sources, measures and
consumers, the categorical values, and the words that name derived features."""

from __future__ import annotations

WINDOWS = {"1d": 1, "7d": 7, "14d": 14, "30d": 30, "90d": 90}
CATEGORIES = {
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
VOCAB: dict[str, tuple[list[tuple[str, str, str, str, str]], str]] = {
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
UNDERUSED = {
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
INDEX_WORD = {"user": "engagement", "ad": "quality", "advertiser": "health",
              "query": "satisfaction", "doc": "popularity", "merchant": "risk",
              "card": "velocity", "device": "health", "seller": "reliability",
              "account": "activity", "item": "popularity"}
TRANSFORMS = {"scaled": "rescaled to the unit range by the nightly job",
              "norm": "normalised by the population mean",
              "smoothed": "smoothed with a 3-day moving average",
              "winsorized": "winsorized at the 1st and 99th percentiles"}

