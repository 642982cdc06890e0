"""Names and limits, errors, settings, time parsing, batching: used by every package."""
