"""Query errors: what was wrong, named, and where."""

from __future__ import annotations

from magpie.errors import MagpieError


class QueryError(MagpieError):
    status, code, type = 400, "query_error", "validation_error"


class QuerySyntaxError(QueryError):
    code = "query_syntax_error"


class UnknownTable(QueryError):
    code = "unknown_table"


class UnknownColumn(QueryError):
    code = "unknown_column"


class UnknownFunction(QueryError):
    code = "unknown_function"


class ForbiddenStatement(QueryError):
    code = "forbidden_statement"


class MissingPlaceholder(QueryError):
    code = "missing_placeholder"


class QueryTooComplex(QueryError):
    code = "query_too_complex"


class InvalidFormula(QueryError):
    code = "invalid_formula"


class QueryTimeout(MagpieError):
    status, code, type = 408, "query_timeout", "server_error"


def where(node: object) -> str:
    """'at line L, column C' when the parser kept the position."""
    meta = getattr(node, "meta", None) or {}
    if "line" not in meta or "col" not in meta:
        return ""
    # The parser records where a token ends; report where it starts.
    width = meta.get("end", 0) - meta.get("start", 0)
    return f" at line {meta['line']}, column {meta['col'] - width}"


class QueryLimitExceeded(QueryError):
    """A query asked for more than one of the limits in docs/querying.md allows."""

    code = "query_limit_exceeded"


class BreakdownLimitTooLarge(QueryLimitExceeded):
    code = "breakdown_limit_too_large"


class TooManyBuckets(QueryLimitExceeded):
    code = "too_many_buckets"


class ResultTooLarge(QueryLimitExceeded):
    code = "result_too_large"


class QueryMemoryExceeded(QueryLimitExceeded):
    code = "query_memory_exceeded"


class QueryFailed(QueryError):
    """The engine refused the query while running it. The message names what kind of
    problem it was and never the engine's own words (they name its internals)."""

    code = "query_failed"
