"""Alembic revision scripts (a package so the wheel ships them)."""
