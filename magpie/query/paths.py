"""PathsQuery: the steps actors take, as weighted edges between numbered nodes
(``1_/home`` → ``2_/pricing``).

Each event becomes a path item (a page's URL, a screen's name or the event's
name), cleaned by the query's regex replacements and grouped by its
wildcards. Per actor (a person, or an anonymous visitor's distinct id), items
are ordered by time and cut into sessions wherever 30 minutes pass without
one; a repeated item is one step. A path starts at the session's first step,
or at its first ``startPoint``; it ends ``stepLimit`` steps on, or at the
first ``endPoint`` (keeping the last ``stepLimit`` steps before it). With
both, a path longer than the limit keeps its first and last ``stepLimit // 2``
steps around a ``...`` step. All of that runs in the engine, with window
functions; Python keeps the heaviest edges that connect to a first step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field
from sqlglot import exp

from magpie.errors import InvalidInput
from magpie.query.context import QueryContext
from magpie.query.dates import window, zone
from magpie.query.funnel_paths import FunnelPathsFilter, Spans, funnel_spans
from magpie.query.limits import MAX_BREAKDOWN_LIMIT
from magpie.query.models import DateRange, EventsNode, Properties, _Model
from magpie.query.path_items import PathCleaningFilter, PathType, path_item, types_condition
from magpie.query.periods import actor
from magpie.query.series import series_filter
from magpie.query.templates import fill_named

SESSION_GAP_SECONDS = 30 * 60
ELLIPSIS = "..."


class PathsFilter(_Model):
    includeEventTypes: list[PathType] = Field(default_factory=list)
    startPoint: str | None = None
    endPoint: str | None = None
    stepLimit: int = Field(5, ge=2, le=20)
    edgeLimit: int = Field(50, ge=1, le=MAX_BREAKDOWN_LIMIT)
    minEdgeWeight: int | None = None
    maxEdgeWeight: int | None = None
    excludeEvents: list[str] = Field(default_factory=list)
    pathGroupings: list[str] = Field(default_factory=list)
    pathReplacements: bool = False
    localPathCleaningFilters: list[PathCleaningFilter] = Field(default_factory=list)
    # The item of each event when includeEventTypes has "hogql" (e.g. properties.$host).
    pathsHogQLExpression: str | None = Field(None, max_length=4000)
    # Which node or edge an actors query asks about ("2_/pricing").
    pathStartKey: str | None = None
    pathEndKey: str | None = None
    pathDropoffKey: str | None = None


class PathsQuery(_Model):
    kind: Literal["PathsQuery"]
    pathsFilter: PathsFilter = Field(default_factory=lambda: PathsFilter.model_validate({}))
    funnelPathsFilter: FunnelPathsFilter | None = None
    dateRange: DateRange = Field(default_factory=DateRange)
    properties: Properties = None
    filterTestAccounts: bool = False


# -- SQL -------------------------------------------------------------------------------

_ORDER = "ORDER BY at, item"
# A running sum counts rows, not peers of one instant (lag and row_number take no frame).
_RUNNING = f"{_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
_IN_SESSION = f"PARTITION BY actor, session {_ORDER}"

# Every session's steps, each with the step before it (previous, previous_at).
_EVENTS_IN = """
WITH events_in AS (
    SELECT ACTOR AS actor, timestamp AS at, ITEM AS item FROM events WHERE PATH_EVENTS
)"""
# A funnel's paths: each actor's events within its span of the funnel (the spans
# CTE's body is put in after parsing: a template only has column slots).
_FUNNEL_EVENTS_IN = """
WITH spans AS (SELECT 1 AS placeholder), events_in AS (
    SELECT e.actor AS actor, e.at AS at, e.item AS item FROM (
        SELECT CAST(ACTOR AS VARCHAR) AS actor, timestamp AS at, ITEM AS item,
               MICROS AS micros
        FROM events WHERE PATH_EVENTS
    ) AS e JOIN spans ON spans.actor = e.actor
    WHERE e.micros >= spans.low AND e.micros <= spans.high
)"""
_STEPS = (
    _EVENTS_IN
    + f""", items AS (
    SELECT actor, at, item FROM events_in WHERE KEPT_ITEMS
), gaps AS (
    SELECT actor, at, item,
           lag(at) OVER (PARTITION BY actor {_ORDER}) AS gap_from,
           lag(item) OVER (PARTITION BY actor {_ORDER}) AS item_before
    FROM items
), sessions AS (
    SELECT actor, at, item, NEW_SESSION AS is_new,
           sum(CASE WHEN NEW_SESSION THEN 1 ELSE 0 END)
               OVER (PARTITION BY actor {_RUNNING}) AS session,
           item_before
    FROM gaps
), steps AS (
    SELECT actor, session, at, item,
           row_number() OVER ({_IN_SESSION}) AS step,
           lag(item) OVER ({_IN_SESSION}) AS previous,
           lag(at) OVER ({_IN_SESSION}) AS previous_at
    FROM sessions WHERE is_new OR item_before <> item
)"""
)

_STARTS = """, starts AS (
    SELECT actor, session, at, item, step, previous, previous_at,
           min(CASE WHEN IS_START THEN step END) OVER (PARTITION BY actor, session) AS first_start
    FROM steps
)"""

_ENDS = """, ends AS (
    SELECT actor, session, at, item, step, previous, previous_at, first_start,
           min(CASE WHEN IS_END AND step >= first_start THEN step END)
               OVER (PARTITION BY actor, session) AS first_end
    FROM starts
)"""


def _edges(table: str) -> str:
    return f"""
SELECT SOURCE_STEP AS source_step, previous AS source, item AS target,
       count() AS transitions, avg(SECONDS) AS seconds
FROM {table} WHERE EDGE GROUP BY 1, 2, 3"""


def _edge_actors(table: str) -> str:
    """The actors behind a node or an edge of the chart."""
    return f"SELECT DISTINCT actor FROM {table} WHERE EDGE AND ON_THE_WAY"


def _dropoff_actors(table: str) -> str:
    """The actors with a path whose last edge (as the chart cuts paths) ends at a node."""
    return f"""
SELECT DISTINCT actor FROM (
    SELECT actor, item, SOURCE_STEP AS source_step,
           max(SOURCE_STEP) OVER (PARTITION BY actor, session) AS last_step
    FROM {table} WHERE EDGE
) AS last_edges WHERE source_step = last_step AND ON_THE_WAY"""


# A long path between two points is not one run of steps: its edges are found again.
_ELIDED_EDGES = """, kept AS (
    SELECT actor, session, at, KEPT_ITEM AS path_item, KEPT_STEP AS path_step
    FROM ends WHERE KEEP
), edges AS (
    SELECT actor, session, at, path_item AS item, path_step AS step,
           lag(path_item) OVER (PARTITION BY actor, session ORDER BY path_step) AS previous,
           lag(at) OVER (PARTITION BY actor, session ORDER BY path_step) AS previous_at
    FROM kept
)"""

# How a session's steps become the path's edges, by which ends are fixed: the
# steps, the table of edges, which of its rows end an edge, and the step number
# its source gets.
_FROM_FIRST = (
    _STEPS,
    "steps",
    {"EDGE": "step >= 2 AND step <= STEP_LIMIT", "SOURCE_STEP": "step - 1"},
)
_FROM_START = (
    _STEPS + _STARTS,
    "starts",
    {
        "EDGE": "step > first_start AND step < first_start + STEP_LIMIT",
        "SOURCE_STEP": "step - first_start",
    },
)
_TO_END = (
    _STEPS + _STARTS + _ENDS,
    "ends",
    {
        "EDGE": "step <= first_end AND step > greatest(first_end - STEP_LIMIT, 0) + 1",
        "SOURCE_STEP": "step - greatest(first_end - STEP_LIMIT, 0) - 1",
    },
)
# From start to end; a longer path than the limit keeps its first HEAD and last TAIL
# steps around a "..." step.
_BETWEEN = (
    _STEPS + _STARTS + _ENDS + _ELIDED_EDGES,
    "edges",
    {
        "EDGE": "previous IS NOT NULL",
        "SOURCE_STEP": "step - 1",
        "KEEP": "step >= first_start AND step <= first_end"
        " AND (SPAN <= STEP_LIMIT OR REL <= HEAD + 1 OR REL > SPAN - TAIL)",
        "KEPT_STEP": "CASE WHEN SPAN <= STEP_LIMIT OR REL <= HEAD + 1 THEN REL"
        " ELSE REL - (SPAN - TAIL) + HEAD + 1 END",
        "KEPT_ITEM": "CASE WHEN SPAN > STEP_LIMIT AND REL = HEAD + 1 THEN ELLIPSIS ELSE item END",
    },
)


def _expression(text: str, **slots: exp.Expr) -> exp.Expr:
    """One expression of a template, with those of ``slots`` it names."""
    select = fill_named(f"SELECT {text}", slots)
    assert isinstance(select, exp.Select)
    return select.expressions[0]


def _query(
    query: PathsQuery,
    context: QueryContext,
    final: Callable[[str], str] = _edges,
    more: Callable[[dict[str, exp.Expr]], dict[str, exp.Expr]] = lambda shape: {},
    spans: Spans | None = None,
) -> exp.Query:
    """The edges' counts, or with another ``final`` select, what it reads from the
    table of edges (``more`` fills its slots, given the shape's expressions); with
    ``spans``, of those actors' events within their spans only."""
    settings = query.pathsFilter
    tz = zone(context.project.timezone)
    period = window(
        query.dateRange.date_from,
        query.dateRange.date_to,
        "day",
        tz,
        context.now,
        None,
        week_start=context.week_start,
    )
    conditions = [
        series_filter(
            EventsNode(event=None),
            period,
            context,
            properties=query.properties,
            filter_test_accounts=query.filterTestAccounts,
        ).where()
    ]
    types = types_condition(list(settings.includeEventTypes))
    if types is not None:
        conditions.append(types)
    if settings.startPoint is not None and settings.endPoint is not None:
        if settings.stepLimit < 3:
            raise InvalidInput(
                "a path between a start and an end point needs a stepLimit of 3 or more",
                attr="pathsFilter.stepLimit",
            )
        ctes, table, shape = _BETWEEN
    elif settings.endPoint is not None:
        ctes, table, shape = _TO_END
    elif settings.startPoint is not None:
        ctes, table, shape = _FROM_START
    else:
        ctes, table, shape = _FROM_FIRST
    item = exp.column("item")
    kept = [exp.Not(this=exp.Is(this=item.copy(), expression=exp.Null()))]
    if settings.excludeEvents:
        excluded = [exp.Literal.string(e) for e in settings.excludeEvents]
        kept.append(exp.Not(this=exp.In(this=item.copy(), expressions=excluded)))
    numbers = {
        "STEP_LIMIT": exp.Literal.number(settings.stepLimit),
        "HEAD": exp.Literal.number(settings.stepLimit // 2),
        "TAIL": exp.Literal.number(settings.stepLimit - settings.stepLimit // 2 - 1),
        "ELLIPSIS": exp.Literal.string(ELLIPSIS),
        "REL": _expression("step - first_start + 1"),
        "SPAN": _expression("first_end - first_start + 1"),
    }
    gap = exp.DateDiff(
        this=exp.column("at"), expression=exp.column("gap_from"), unit=exp.var("SECOND")
    )
    slots = {
        "ACTOR": actor(),
        "ITEM": path_item(
            list(settings.includeEventTypes),
            settings.localPathCleaningFilters,
            settings.pathGroupings,
            settings.pathsHogQLExpression,
            project_cleaning=_project_cleaning(settings, context),
        ),
        "PATH_EVENTS": exp.and_(*conditions),
        "KEPT_ITEMS": exp.and_(*kept),
        "NEW_SESSION": exp.or_(
            exp.Is(this=exp.column("gap_from"), expression=exp.Null()),
            exp.GTE(
                this=gap,
                expression=exp.Literal.number(
                    SESSION_GAP_SECONDS if spans is None else spans.session_gap_seconds
                ),
            ),
        ),
        "SECONDS": exp.DateDiff(
            this=exp.column("at"), expression=exp.column("previous_at"), unit=exp.var("SECOND")
        ),
        "IS_START": _is("item", settings.startPoint)
        if settings.startPoint is not None
        else exp.EQ(this=exp.column("step"), expression=exp.Literal.number(1)),
        "IS_END": _is("item", settings.endPoint) if settings.endPoint is not None else None,
    }
    steps = {name: _expression(text, **numbers) for name, text in shape.items()}
    if spans is None:
        return fill_named(ctes + final(table), {**slots, **steps, **more(steps)})
    template = ctes.replace(_EVENTS_IN, _FUNNEL_EVENTS_IN, 1) + final(table)
    slots["MICROS"] = spans.micros(context)
    tree = fill_named(template, {**slots, **steps, **more(steps)})
    body = exp.select("*").from_(spans.values())
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "spans":
            cte.set("this", body)
    return tree


def _project_cleaning(settings: PathsFilter, context: QueryContext) -> list[PathCleaningFilter]:
    """The project's cleaning rules, when the query asks for them (``pathReplacements``)."""
    if not settings.pathReplacements:
        return []
    return [PathCleaningFilter.model_validate(r) for r in context.project.path_cleaning_filters]


def _spans(query: PathsQuery, context: QueryContext) -> Spans | None:
    """A funnel's actors and their spans (``funnelPathsFilter``), or None without one."""
    if query.funnelPathsFilter is None:
        return None
    return funnel_spans(query.funnelPathsFilter, context)


def _is(column: str, value: str) -> exp.Expr:
    return exp.EQ(this=exp.column(column), expression=exp.Literal.string(value))


# -- results ---------------------------------------------------------------------------


def run_paths(query: PathsQuery, context: QueryContext) -> dict[str, Any]:
    settings = query.pathsFilter
    spans = _spans(query, context)
    if spans is not None and not spans.spans:
        return {"results": [], "timings": context.timings}
    rows = context.run(context.compile(_query(query, context, spans=spans)))
    context.check_deadline()
    edges: list[dict[str, Any]] = [
        {
            "source": f"{int(step)}_{source}",
            "target": f"{int(step) + 1}_{target}",
            "value": int(transitions),
            "average_conversion_time": float(seconds or 0) * 1000,
        }
        for step, source, target, transitions, seconds in rows
    ]
    low, high = settings.minEdgeWeight, settings.maxEdgeWeight
    edges = [
        e
        for e in edges
        if (low is None or e["value"] >= low) and (high is None or e["value"] <= high)
    ]
    edges.sort(key=lambda e: (-e["value"], e["source"], e["target"]))
    return {"results": _reachable(edges[: settings.edgeLimit]), "timings": context.timings}


def _reachable(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edges on some path from a first step: a kept edge whose source lost all its
    incoming edges to the limit would float free of the chart."""
    outgoing: dict[str, list[int]] = defaultdict(list)
    for n, edge in enumerate(edges):
        outgoing[edge["source"]].append(n)
    reached = [s for s in outgoing if s.startswith("1_")]
    seen_nodes, kept = set(reached), set()
    while reached:
        node = reached.pop()
        for n in outgoing.get(node, []):
            kept.add(n)
            target = edges[n]["target"]
            if target not in seen_nodes:
                seen_nodes.add(target)
                reached.append(target)
    return [edge for n, edge in enumerate(edges) if n in kept]


def _node(key: str, attr: str) -> tuple[int, str]:
    step, _, item = key.partition("_")
    if not step.isdigit() or not item or not 1 <= int(step) <= 20:
        raise InvalidInput(f"{key[:100]!r} is not a path node such as '2_/pricing'", attr=attr)
    return int(step), item


def path_actors(query: PathsQuery, context: QueryContext) -> list[str]:
    """The actors behind an edge (``pathStartKey`` to ``pathEndKey``) or a node (one of
    them), as the chart shows them."""
    settings = query.pathsFilter
    if settings.pathDropoffKey is not None:
        return _dropoff(query, context)
    keys = [
        _node(key, f"pathsFilter.{name}")
        for name, key in (
            ("pathStartKey", settings.pathStartKey),
            ("pathEndKey", settings.pathEndKey),
        )
        if key is not None
    ]
    if not keys:
        raise InvalidInput("name a node: pathStartKey, pathEndKey or both", attr="pathsFilter")

    def on_the_way(shape: dict[str, exp.Expr]) -> dict[str, exp.Expr]:
        def source_at(step: int) -> exp.Expr:
            number = exp.Literal.number(step)
            return exp.EQ(this=shape["SOURCE_STEP"].copy(), expression=number)

        if len(keys) == 2:
            (start, source), (_, target) = keys
            edge = exp.and_(source_at(start), _is("previous", source), _is("item", target))
            return {"ON_THE_WAY": edge}
        ((step, item),) = keys
        leaving = exp.and_(source_at(step), _is("previous", item))
        arriving = exp.and_(source_at(step - 1), _is("item", item))
        return {"ON_THE_WAY": exp.or_(leaving, arriving)}

    if len(keys) == 2 and keys[1][0] != keys[0][0] + 1:
        return []  # no edge joins steps that are not next to each other
    spans = _spans(query, context)
    if spans is not None and not spans.spans:
        return []
    tree = _query(query, context, _edge_actors, on_the_way, spans)
    return [str(row[0]) for row in context.run(context.compile(tree))]


def _dropoff(query: PathsQuery, context: QueryContext) -> list[str]:
    """``pathDropoffKey``: the actors with a path that ends at that node (and so left
    there), a path being cut where the chart cuts it (``stepLimit``, ``endPoint``)."""
    settings = query.pathsFilter
    attr = "pathsFilter.pathDropoffKey"
    if settings.pathStartKey is not None or settings.pathEndKey is not None:
        raise InvalidInput("pathDropoffKey names a node alone", attr=attr)
    step, item = _node(settings.pathDropoffKey or "", attr)
    if step < 2:
        raise InvalidInput("pathDropoffKey names a node after the first step", attr=attr)

    def at_node(shape: dict[str, exp.Expr]) -> dict[str, exp.Expr]:
        number = exp.Literal.number(step - 1)
        arrived = exp.EQ(this=exp.column("source_step"), expression=number)
        return {"ON_THE_WAY": exp.and_(arrived, _is("item", item))}

    spans = _spans(query, context)
    if spans is not None and not spans.spans:
        return []
    tree = _query(query, context, _dropoff_actors, at_node, spans)
    return [str(row[0]) for row in context.run(context.compile(tree))]
