"""The Spark session the Spark engine runs in, and listing input files through Hadoop.

Imported only by the Spark engine (PySpark comes with ``pip install featreg[spark]``).
`spark_session` returns the active session when there is one (``spark-submit`` made it, with
its ``--master`` and ``--conf``), else builds one: ``master`` when given, else whatever
``spark-defaults.conf`` or ``PYSPARK_SUBMIT_ARGS`` say, else ``local[*]``. Times are UTC.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["input_files", "quiet", "spark_session"]


@contextmanager
def quiet() -> Iterator[None]:
    """PySpark warns about pandas versions it has not been tested with; the engine only
    passes Arrow batches, so the warning says nothing about its results."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def spark_session(master: str | None = None, conf: dict[str, str] | None = None
                  ) -> SparkSession:
    """The active Spark session, or a new one (see the module docstring)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - the spark extra is missing
        raise RuntimeError("the spark engine needs PySpark: pip install 'featreg[spark]'") from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # local workers run this interpreter (where featreg is installed), not `python3` on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.appName("featreg")
    if master:
        builder = builder.master(master)
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false",
                **(conf or {})}
    for key, value in settings.items():
        builder = builder.config(key, value)
    with quiet():
        session: SparkSession = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def input_files(spark: SparkSession, uri: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files under ``uri`` (a file, a folder or a glob; any Hadoop file system: ``file:``,
    ``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``) whose names end with ``suffixes``,
    sorted by path. Names starting with ``_`` or ``.`` (``_SUCCESS``) are skipped."""
    jvm: Any = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(hadoop_conf)
    statuses = fs.globStatus(path) or []
    found: list[str] = []
    todo = list(statuses)
    while todo:
        status = todo.pop()
        if status.isDirectory():
            todo.extend(fs.listStatus(status.getPath()))
            continue
        name = status.getPath().getName()
        if not name.startswith(("_", ".")) and name.lower().endswith(suffixes):
            found.append(str(status.getPath().toString()))
    if not found:
        raise ValueError(f"{uri}: no input files ending with {', '.join(suffixes)}")
    return sorted(found)
