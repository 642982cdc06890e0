"""Analysis engines: where heavy evidence work runs (usage logs, snapshot statistics).

``local`` (`registry.engines.local.LocalEngine`) is the in-process code; ``spark``
(`registry.engines.spark.SparkEngine`, ``pip install 'featreg[spark]'``) runs the same
definitions on Apache Spark for data past one machine. Chosen by the ``FEATREG_ENGINE``
setting or ``--engine`` on the commands that use one. Engines compute values; the usage and
snapshot services store them (`registry.engines.base`).
"""

from __future__ import annotations

from registry.engines.base import ENGINES, Engine, EngineName, ProfileRequest, SnapshotProfile

__all__ = ["ENGINES", "Engine", "EngineName", "ProfileRequest", "SnapshotProfile", "get_engine"]


def get_engine(name: str, *, master: str | None = None) -> Engine:
    """The engine called ``name`` (``local`` or ``spark``; ``master`` is Spark's)."""
    if name == "local":
        from registry.engines.local import LocalEngine

        return LocalEngine()
    if name == "spark":
        from registry.engines.spark import SparkEngine

        return SparkEngine(master)
    raise ValueError(f"unknown engine {name!r}: use {' or '.join(ENGINES)}")
