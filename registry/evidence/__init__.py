"""Evidence: what consumers read (usage), what features are worth (importance), and what the
feature values look like (snapshots). Services take a Session; callers own the transaction.

Modules: `usage` (JSON Lines ingestion, idempotent), `usage_events` (parsing and daily
aggregation), `usage_logger` (batching logger for serving code), `rollups` (queries over daily
reads), `importance` (reports with history), `snapshots` (statistics, correlations, computed
importance).
"""
