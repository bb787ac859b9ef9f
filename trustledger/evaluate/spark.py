"""Batch evaluation on Apache Spark: a connection-like adapter over a SparkSession, so that
evaluate/batch.py runs its SQL (rendered in the "spark" dialect of rulebook/sqlgen.py)
unchanged in its logic.

Inputs become temporary views: in local mode over Parquet files written with pyarrow into a
staging directory of the connection's own; on a cluster through Arrow batches sent from the
driver (a local directory is not visible to remote executors). Intermediate steps are
temporary views too; a step batch.py makes a table (read more than once) is persisted, so
Spark computes it once. Queries come back through Arrow.

pyspark is imported only when a session is opened: the other engines never need it (nor
Java).
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["DEFAULT_MASTER", "SparkConnection", "SparkUnavailable", "check_master", "session"]

DEFAULT_MASTER: Final = "local[2]"

# the forms of master URL Spark itself accepts (Spark Connect's sc:// needs another client)
_MASTER_FORMS: Final = (
    re.compile(r"local(\[(\d+|\*)(,\s*\d+)?\])?"),
    re.compile(r"local-cluster\[\d+,\s*\d+,\s*\d+\]"),
    re.compile(r"spark://[^\s,/:]+:\d+(,[^\s,/:]+:\d+)*"),
    re.compile(r"yarn"),
    re.compile(r"k8s://\S+"),
)
# seconds to wait for a standalone master's port: Spark itself would retry for a minute and
# then leave a context that never runs a job
_REACH_TIMEOUT: Final = 5.0
# rows per Parquet row group (and per Arrow batch) while inputs are written
_CHUNK: Final = 500_000
_ARROW_TYPES: Final = {"VARCHAR": "string", "BIGINT": "int64", "DATE": "date32"}

_sessions: dict[str, SparkSession] = {}


class SparkUnavailable(ValueError):
    """The Spark master cannot be used: a malformed URL, an unreachable master, or Spark
    (or its Java) failing to start. Raised before anything is evaluated or stored."""


def check_master(master: str) -> None:
    """Refuse a master URL Spark would not take, and a standalone master that does not
    answer on its port."""
    if not isinstance(master, str) or not any(f.fullmatch(master) for f in _MASTER_FORMS):
        raise SparkUnavailable(
            f"invalid Spark master URL {master!r}: use local[N], local[*], "
            "spark://HOST:PORT[,HOST:PORT…], yarn or k8s://…"
        )
    if master.startswith("spark://"):
        for address in master.removeprefix("spark://").split(","):
            host, port = address.rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), timeout=_REACH_TIMEOUT).close()
            except OSError as exc:
                raise SparkUnavailable(
                    f"cannot reach the Spark master {master!r} at {address}: {exc.strerror or exc}"
                ) from None


def session(master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None) -> SparkSession:
    """The process's Spark session on ``master``, started on first use (5-10 s) and then
    shared: a SparkContext is one per process, so asking for another master stops it.

    ``conf`` adds Spark settings for a session started now (driver memory, executors…).
    """
    found = _sessions.get(master)
    if found is not None:
        return found
    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "the spark engine needs pyspark: pip install 'trustledger[scale]'"
        ) from None
    for other in list(_sessions):
        _sessions.pop(other).stop()
    builder = (
        SparkSession.builder.master(master)
        .appName("trustledger-evaluate")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        # the generated SQL never means `${...}` as a variable
        .config("spark.sql.variable.substitute", "false")
        # overflow is an error, never a wrapped value (Spark 4's default, pinned)
        .config("spark.sql.ansi.enabled", "true")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailable(
            f"Spark did not start on master {master!r} (it needs Java 17 or later on PATH or "
            f"in JAVA_HOME): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    spark.sparkContext.setLogLevel("WARN")
    # a failed query raises with its message; PySpark would also log it with a stack trace
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    _sessions[master] = spark
    return spark


class SparkConnection:
    """The part of a DB-API connection batch.py uses (`execute(...).fetchall()`, `close`),
    plus how it builds relations in Spark: `create` (a step), `load` (an input's rows) and
    `register_parquet` (an input already in Parquet)."""

    dialect: Final = "spark"

    def __init__(self, spark: SparkSession, *, stage_parquet: bool | None = None) -> None:
        # a session of its own (same context): its temporary views are its alone
        self.spark = spark.newSession()
        for key in ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone",
                    "spark.sql.variable.substitute", "spark.sql.ansi.enabled"):  # fmt: skip
            self.spark.conf.set(key, str(spark.conf.get(key)))
        local = str(spark.sparkContext.master).startswith("local")
        self.stage_parquet = local if stage_parquet is None else stage_parquet
        self._staging: Path | None = None
        self._views: set[str] = set()
        self._persisted: dict[str, DataFrame] = {}
        self._result: DataFrame | None = None

    @classmethod
    def open(cls, master: str = DEFAULT_MASTER) -> SparkConnection:
        return cls(session(master))

    # -- the DB-API part ---------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> SparkConnection:
        if params:
            raise ValueError("the Spark adapter takes no query parameters")
        self._result = self.spark.sql(sql)
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._result is None:
            raise ValueError("fetchall() before execute()")
        table = self._result.toArrow()
        self._result = None
        columns = [column.to_pylist() for column in table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def close(self) -> None:
        for df in self._persisted.values():
            df.unpersist()
        self._persisted.clear()
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    # -- relations ---------------------------------------------------------------------

    def create(self, kind: str, name: str, select: str) -> None:
        """A step as a temporary view; a "TABLE" is persisted (read more than once).

        The view holds the plan as analysed now: re-pointing a view it reads later (batch.py
        re-points `subjects`) does not change it, as with a table in the other engines.
        """
        if kind not in ("TABLE", "VIEW"):
            raise ValueError(f"unknown relation kind {kind!r}")
        df = self.spark.sql(select)
        if kind == "TABLE":
            df = df.persist()
        self._replace(name, df, persisted=kind == "TABLE")

    def load(self, table: str, columns: Mapping[str, str], rows: Iterable[Sequence[Any]]) -> None:
        """Rows (None for NULL; DATE values as `date` or ISO text) as the view ``table``,
        with the SQL types of ``columns`` (VARCHAR, BIGINT or DATE)."""
        import pyarrow as pa

        schema = pa.schema([(c, _arrow_type(t)) for c, t in columns.items()])
        batches = (_batch(schema, chunk) for chunk in _chunks(rows))
        if self.stage_parquet:
            import pyarrow.parquet as pq

            path = self._staging_dir() / f"{table}.parquet"
            with pq.ParquetWriter(path, schema) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            self.register_parquet(table, path)
            return
        arrow = pa.Table.from_batches(list(batches), schema=schema)
        self._replace(table, self.spark.createDataFrame(arrow), persisted=False)

    def register_parquet(self, name: str, path: Path | str) -> None:
        """A Parquet file or directory (one Spark's executors can read) as the view ``name``."""
        self._replace(name, self.spark.read.parquet(str(path)), persisted=False)

    def _replace(self, name: str, df: DataFrame, *, persisted: bool) -> None:
        df.createOrReplaceTempView(name)
        self._views.add(name)
        old = self._persisted.pop(name, None)
        if old is not None:
            old.unpersist()
        if persisted:
            self._persisted[name] = df

    def _staging_dir(self) -> Path:
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="trustledger-spark-"))
        return self._staging


def _arrow_type(sql_type: str) -> pa.DataType:
    import pyarrow as pa

    name = _ARROW_TYPES.get(sql_type)
    if name is None:
        raise ValueError(f"no Spark input column type for {sql_type!r}")
    found: pa.DataType = getattr(pa, name)()
    return found


def _chunks(rows: Iterable[Sequence[Any]]) -> Iterable[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    yield chunk  # possibly empty: the schema is written all the same


def _batch(schema: pa.Schema, rows: list[Sequence[Any]]) -> pa.RecordBatch:
    import pyarrow as pa

    values: list[Sequence[Any]] = (
        [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in schema]
    )
    arrays = []
    for field, column in zip(schema, values, strict=True):
        if field.type == pa.date32():
            # ISO text is cast by Arrow in C; dates go in as they are
            column = [v.isoformat() if isinstance(v, date) else v for v in column]
            arrays.append(pa.array(column, pa.string()).cast(pa.date32()))
        else:
            arrays.append(pa.array(column, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
