"""Analysis engines: where heavy evidence work runs (usage logs, snapshot statistics).

``local`` (`registry.engines.local.LocalEngine`) is the in-process code; ``spark``
(`registry.engines.spark.SparkEngine`, ``pip install 'featreg[spark]'``) runs the same
definitions on Apache Spark for data past one machine. Chosen by the ``FEATREG_ENGINE``
setting or ``--engine`` on the commands that use one. Engines compute values; the usage and
snapshot services store them (`registry.engines.base`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.engines.base import ENGINES, Engine, EngineName, ProfileRequest, SnapshotProfile

if TYPE_CHECKING:
    from registry.engines.usage_logs import UsageAggregate

__all__ = ["ENGINES", "Engine", "EngineName", "ProfileRequest", "SnapshotProfile",
           "aggregate_usage_logs", "chosen_engine", "get_engine", "needs_an_engine"]


def chosen_engine(option: str | None) -> EngineName:
    """``--engine`` when given, else the ``FEATREG_ENGINE`` setting (default ``local``)."""
    if option == "spark":
        return "spark"
    if option == "local":
        return "local"
    from registry.core.settings import AnalysisSettings

    return AnalysisSettings.from_env().engine


def needs_an_engine(source: str) -> bool:
    """Usage logs that `featreg usage ingest` takes through an engine even when it is the
    local one: Parquet files and folders (JSON Lines files and stdin stream in directly)."""
    from pathlib import Path

    from registry.engines.usage_logs import PARQUET_SUFFIXES

    return source != "-" and (Path(source).is_dir() or "://" in source
                              or source.lower().endswith(PARQUET_SUFFIXES))


def aggregate_usage_logs(engine: EngineName, source: str) -> UsageAggregate:
    """Usage logs at ``source`` added up by ``engine``; InvalidInput names what is wrong."""
    from registry.core.errors import InvalidInput, Problem

    try:
        return get_engine(engine).aggregate_usage([source])
    except (ValueError, OSError) as exc:
        raise InvalidInput([Problem(str(exc).splitlines()[0][:500], file=source)]) from exc


def get_engine(name: str, *, master: str | None = None) -> Engine:
    """The engine called ``name`` (``local`` or ``spark``; ``master`` is Spark's)."""
    if name == "local":
        from registry.engines.local import LocalEngine

        return LocalEngine()
    if name == "spark":
        from registry.engines.spark import SparkEngine

        return SparkEngine(master)
    raise ValueError(f"unknown engine {name!r}: use {' or '.join(ENGINES)}")
