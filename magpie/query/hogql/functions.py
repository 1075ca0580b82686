"""Which functions HogQL allows, and how ClickHouse-style names map to portable SQL.

sqlglot already turns most ClickHouse functions into dialect-neutral nodes
(``toStartOfDay`` → ``TimestampTrunc``); those are allowed by class. The rest
arrive as anonymous calls and are rebuilt here from a table of name →
builder. Anything else is refused, which also keeps out the engine's file and
system functions. What an engine spells or computes differently (``uniq``
approximate or exact, quantiles, casts) is its dialect's function map, not
this table.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from magpie.query.limits import MAX_STRING_BYTES

ALLOWED: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.CountIf,
        exp.Quantile,
        exp.AnyValue,
        exp.ArgMax,
        exp.ArgMin,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.ArrayAgg,
        exp.BitwiseOrAgg,
        exp.TimestampTrunc,
        exp.DateTrunc,
        exp.DayOfWeekIso,
        exp.DateDiff,
        exp.TimeToStr,
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Concat,
        exp.Substring,
        exp.Trim,
        exp.StrPosition,
        exp.RegexpLike,
        exp.Split,
        exp.Coalesce,
        exp.Exists,
        exp.If,
        exp.Case,
        exp.Nullif,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Abs,
        exp.Sqrt,
        exp.Pow,
        exp.Ln,
        exp.Log,
        exp.Exp,
        exp.Greatest,
        exp.Least,
        exp.ArrayContains,
        exp.Cast,
        exp.TryCast,
        exp.StartsWith,
        exp.EndsWith,
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.Hour,
        exp.Minute,
        exp.Second,
        exp.Week,
        exp.Quarter,
        exp.DayOfWeek,
        exp.CurrentTimestamp,
        exp.CurrentDate,
        exp.Date,
        exp.Replace,
        exp.RegexpReplace,
        exp.RegexpExtract,
        exp.Left,
        exp.Right,
        exp.Reverse,
        exp.Repeat,
        exp.Pad,
        exp.ToNumber,
        exp.Array,
        exp.Struct,
        exp.Unnest,
        exp.Explode,
        exp.ArraySize,
        exp.Mod,
        exp.SafeDivide,
        exp.StrToTime,
        exp.UnixToTime,
        exp.TimeToUnix,
        exp.ApproxDistinct,
        exp.Interval,
        exp.DateAdd,
        exp.DateSub,
        exp.TimestampAdd,
        exp.TimestampSub,
        exp.JSONExtractScalar,
        exp.Median,
        exp.CityHash64,  # the engine's own 64-bit hash (docs/querying.md)
    }
)

Builder = Callable[[list[exp.Expr]], exp.Expr]


def _cast(to: str, *, safe: bool = True) -> Builder:
    def build(args: list[exp.Expr]) -> exp.Expr:
        node = exp.TryCast if safe else exp.Cast
        return node(this=args[0], to=exp.DataType.build(to))

    return build


def _unary(node: type[exp.Expr]) -> Builder:
    return lambda args: node(this=args[0])


def _multi_if(args: list[exp.Expr]) -> exp.Expr:
    case = exp.Case()
    for condition, value in zip(args[:-1:2], args[1:-1:2], strict=True):
        case = case.when(condition, value)
    return case.else_(args[-1])


def _if_aggregate(node: type[exp.Expr]) -> Builder:
    """``sumIf(x, cond)`` → ``sum(CASE WHEN cond THEN x END)``."""
    return lambda args: node(this=exp.Case().when(args[1], args[0]))


def _count_distinct(args: list[exp.Expr]) -> exp.Expr:
    return exp.Count(this=exp.Distinct(expressions=args))


# lower-case ClickHouse name → builder of a portable expression
FUNCTIONS: dict[str, Builder] = {
    "todate": _cast("DATE"),
    "todatetime": _cast("TIMESTAMP"),
    "tofloat": _cast("DOUBLE"),
    "tofloat64": _cast("DOUBLE"),
    "toint": _cast("BIGINT"),
    "toint64": _cast("BIGINT"),
    "tostring": _cast("VARCHAR", safe=False),
    "tostartofweek": lambda args: exp.DateTrunc(this=args[0], unit=exp.Literal.string("WEEK")),
    "toyear": _unary(exp.Year),
    "tomonth": _unary(exp.Month),
    "tohour": _unary(exp.Hour),
    "now": lambda args: exp.CurrentTimestamp(),
    "today": lambda args: exp.CurrentDate(),
    "replaceall": lambda args: exp.Replace(this=args[0], expression=args[1], replacement=args[2]),
    "multiif": _multi_if,
    "isnull": lambda args: exp.Is(this=args[0], expression=exp.Null()),
    "isnotnull": lambda args: exp.Not(this=exp.Is(this=args[0], expression=exp.Null())),
    "empty": lambda args: exp.EQ(
        this=exp.func("coalesce", args[0], exp.Literal.string("")),
        expression=exp.Literal.string(""),
    ),
    "notempty": lambda args: exp.NEQ(
        this=exp.func("coalesce", args[0], exp.Literal.string("")),
        expression=exp.Literal.string(""),
    ),
    "plus": lambda args: exp.Add(this=args[0], expression=args[1]),
    "minus": lambda args: exp.Sub(this=args[0], expression=args[1]),
    "uniqexact": _count_distinct,
    "grouparray": lambda args: exp.ArrayAgg(this=args[0]),
    "groupuniqarray": lambda args: exp.ArrayAgg(this=exp.Distinct(expressions=args)),
    "sumif": _if_aggregate(exp.Sum),
    "avgif": _if_aggregate(exp.Avg),
    "minif": _if_aggregate(exp.Min),
    "maxif": _if_aggregate(exp.Max),
    "uniqif": lambda args: exp.Count(
        this=exp.Distinct(expressions=[exp.Case().when(args[1], args[0])])
    ),
    "tounixtimestamp": lambda args: exp.TimeToUnix(this=args[0]),
    "fromunixtimestamp": lambda args: exp.UnixToTime(this=args[0]),
}


def _bounded_repeat(node: exp.Expr) -> exp.Expr:
    """``repeat(s, n)`` builds ``length(s) × n`` bytes in one value, out of reach of
    the engine's memory limit: n is capped so that stays within MAX_STRING_BYTES."""
    per_copy = exp.Greatest(
        this=exp.Length(this=node.this.copy()), expressions=[exp.Literal.number(1)]
    )
    most = exp.cast(
        exp.Div(this=exp.Literal.number(MAX_STRING_BYTES), expression=per_copy), "BIGINT"
    )
    node.set("times", exp.Least(this=node.args["times"], expressions=[most]))
    return node


def _bounded_pad(node: exp.Expr) -> exp.Expr:
    """``lpad(s, n)`` / ``rpad(s, n)`` build n characters: n is capped likewise."""
    most = exp.Literal.number(MAX_STRING_BYTES)
    node.set("expression", exp.Least(this=node.args["expression"], expressions=[most]))
    return node


# Allowed calls whose output can be far larger than their input.
BOUNDED: dict[type[exp.Expr], Callable[[exp.Expr], exp.Expr]] = {
    exp.Repeat: _bounded_repeat,
    exp.Pad: _bounded_pad,
}


def rewrite(node: exp.Expr) -> exp.Expr | None:
    """The portable form of a call, or None when the function is not allowed."""
    bound = BOUNDED.get(type(node))
    if bound is not None:
        return bound(node)
    if isinstance(node, exp.CombinedAggFunc | exp.Anonymous | exp.AnonymousAggFunc):
        builder = FUNCTIONS.get(str(node.this).lower())
        return builder(list(node.expressions)) if builder else None
    return node if type(node) in ALLOWED else None


def function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc | exp.CombinedAggFunc):
        return str(node.this)
    return node.sql_name() if hasattr(node, "sql_name") else type(node).__name__
