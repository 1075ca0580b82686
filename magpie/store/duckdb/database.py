"""Opening the DuckDB file (its schema is migrated by ``schema.py``) and binding
Arrow tables to statements."""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from magpie.store.duckdb.schema import apply_migrations
from magpie.store.duckdb.transactions import first_row, transaction

__all__ = ["Database", "execute_over", "fetch_over", "first_row", "transaction"]

log = logging.getLogger(__name__)


# Rows per DuckDB row group. DuckDB compresses and writes a row group once it
# is full; until then every checkpoint rewrites it whole, and a commit or
# checkpoint holds it uncompressed in memory. Event rows carry a kilobyte or
# so of properties, so DuckDB's default (122,880 rows) would mean over 100 MB
# per row group in flight; a smaller one keeps ingestion's memory low and
# cheap to commit, at a negligible cost to scans.
ROW_GROUP_ROWS = 16_384
# DuckDB shreds a VARIANT column (each property into a typed column of its own)
# only in row groups of at least this many rows; its default is a quarter of
# its own default row group, more than Magpie's whole row group, which would
# leave properties unshredded and every read of one decoding whole objects.
VARIANT_SHREDDING_ROWS = ROW_GROUP_ROWS // 4
_CATALOG = "magpie"


class Database:
    """The process's one DuckDB connection; threads work through their own cursors."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str = "1GB",
        threads: int = 2,
        spill_limit: str = "10GB",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        spill = path.parent / "spill"
        self._connection = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                # A large insert writes each row group out as soon as it is full,
                # rather than holding several back to write together.
                "write_buffer_row_group_count": 1,
                "variant_minimum_shredding_size": VARIANT_SHREDDING_ROWS,
                "python_enable_replacements": False,
                # An as-of join whose left side DuckDB guesses at under 64 rows runs
                # as a nested loop; the guess can be far off (a filter on a computed
                # column is guessed at a few rows), and a funnel's step join that
                # takes 0.4 s sorted then takes many minutes. Always sort.
                "asof_loop_join_threshold": 0,
                # Operators that outgrow the memory limit spill here, up to a cap,
                # not into the server's working directory.
                "temp_directory": str(spill),
                "max_temp_directory_size": spill_limit,
            },
        )
        self._local = threading.local()
        try:
            # The row group size is an option of attaching a file, not of the file.
            self._connection.execute(
                f"ATTACH $path AS {_CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})",
                {"path": str(path)},
            )
            _use_catalog(self._connection)
            apply_migrations(self._connection)
            _lock_down(self._connection)
        except BaseException:
            # A failed start (a migration, another process holding the file) must
            # not keep the file attached until the garbage collector finds it.
            self._connection.close()
            raise

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for the calling thread, reused across calls."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self.new_cursor()
            self._local.cursor = cursor
        return cursor

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own, e.g. for a query that may be interrupted."""
        return _use_catalog(self._connection.cursor())

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file."""
        self._connection.execute("CHECKPOINT")

    def close(self) -> None:
        try:
            self.checkpoint()
        except duckdb.Error as exc:
            # Another cursor still has a transaction open; DuckDB checkpoints
            # on the next start from its write-ahead log, so nothing is lost.
            log.warning("no checkpoint at close: %s", exc)
        self._connection.close()


def _lock_down(connection: duckdb.DuckDBPyConnection) -> None:
    """From here on the engine reads and writes only its own files and cannot be
    reconfigured: no query, however it got past the compiler, reaches another
    file (a CSV, the credentials) or changes a setting."""
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def _use_catalog(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    # Each cursor starts in DuckDB's in-memory catalog; Magpie's tables are in the file.
    cursor.execute(f"USE {_CATALOG}")
    return cursor


def execute_over(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    incoming: pa.Table,
    params: dict[str, Any] | None = None,
) -> None:
    """Run the statement ``sql``, in which the table named ``incoming`` is this Arrow table.

    The table is bound for this one statement (no catalog entry: a registered
    view would keep it, and every table registered after it, in memory until
    the transaction ends, and an ingest transaction goes through many tables).
    A relation's query takes no parameters, so ``params`` are bound as
    literals into the parsed statement.
    """
    _over(cursor, sql, incoming, params)


def fetch_over(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    incoming: pa.Table,
    params: dict[str, Any] | None = None,
) -> list[Any]:
    """The rows of the query ``sql`` over ``incoming``, as ``execute_over`` binds it."""
    relation = _over(cursor, sql, incoming, params)
    return relation.fetchall() if relation is not None else []


def _over(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    incoming: pa.Table,
    params: dict[str, Any] | None,
) -> duckdb.DuckDBPyRelation | None:
    if params:
        sql = bind_literals(sql, params)
    return cursor.from_arrow(incoming).query("incoming", sql)


@functools.lru_cache(maxsize=64)
def _parsed(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="duckdb")


def bind_literals(sql: str, params: dict[str, Any]) -> str:
    """``sql`` with each ``$name`` replaced by the literal of ``params[name]``."""
    tree = _parsed(sql).copy()
    for placeholder in list(tree.find_all(exp.Placeholder)):
        placeholder.replace(exp.convert(params[placeholder.name]))
    return tree.sql(dialect="duckdb")
