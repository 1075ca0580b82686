"""Transactions and results on a DuckDB cursor, shared by the stores and the migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb


def first_row(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row of a result, reading it to the end.

    ``fetchone()`` leaves the result open, and with it the cursor's
    transaction, which blocks DuckDB's checkpoints for as long as that cursor
    is not used again.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


@contextmanager
def transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor.execute("BEGIN TRANSACTION")
    try:
        yield cursor
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")
