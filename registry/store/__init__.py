"""The one schema (SQLAlchemy models), engines and sessions, the schema check."""
