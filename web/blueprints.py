"""Every blueprint of the app, registered in one place (add new areas here)."""

from __future__ import annotations

from flask import Flask


def register_all(app: Flask) -> None:
    pass
