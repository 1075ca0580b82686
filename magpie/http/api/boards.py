"""``/api/projects/{id}/insights/`` and ``/dashboards/``, in PostHog's shapes:
an insight has ``name``, ``description``, ``query``, ``short_id`` and the
``dashboards`` it is on; a dashboard has ``name``, ``description``,
``filters`` (a date range for every tile) and ``tiles``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie import boards
from magpie.errors import InvalidInput, NotFound
from magpie.http.api.common import (
    ApiContext,
    api_endpoint,
    int_param,
    json_response,
    next_page,
    parse_body,
    utc_text,
)
from magpie.store.base import DashboardStore, InsightStore
from magpie.store.model import Dashboard, Insight

MAX_NAME = 400
MAX_DESCRIPTION = 4000
MAX_QUERY_BYTES = 256 * 1024
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1


def _query(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise ValueError('a query is an object with a "kind", e.g. {"kind": "TrendsQuery", ...}')
    if len(orjson.dumps(value)) > MAX_QUERY_BYTES:
        raise ValueError(f"a query may have at most {MAX_QUERY_BYTES // 1024} KiB of JSON")
    return value


Id = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]


class NewInsight(BaseModel):
    model_config = ConfigDict(extra="ignore")  # PostHog clients send more (filters, tags…)
    name: StrictStr | None = Field(default=None, max_length=MAX_NAME)
    description: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION)
    query: dict[str, Any]
    dashboards: list[Id] | None = None

    @field_validator("query")
    @classmethod
    def _valid_query(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _query(value)


class InsightChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: StrictStr | None = Field(default=None, max_length=MAX_NAME)
    description: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION)
    query: dict[str, Any] | None = None
    dashboards: list[Id] | None = None

    @field_validator("query")
    @classmethod
    def _valid_query(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _query(value)


class DateFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date_from: StrictStr | None = Field(default=None, max_length=64)
    date_to: StrictStr | None = Field(default=None, max_length=64)


class TileChange(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: Id
    deleted: bool = False


class NewDashboard(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: StrictStr = Field(min_length=1, max_length=MAX_NAME)
    description: StrictStr = Field(default="", max_length=MAX_DESCRIPTION)


class DashboardChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION)
    filters: DateFilters | None = None
    tiles: list[TileChange] | None = None


def public_insight(insight: Insight) -> dict[str, Any]:
    return {
        "id": insight.id,
        "short_id": insight.short_id,
        "name": insight.name,
        "description": insight.description,
        "query": insight.query,
        "dashboards": list(insight.dashboards),
        "created_at": utc_text(insight.created_at),
        "last_modified_at": utc_text(insight.last_modified_at),
    }


def public_dashboard(dashboard: Dashboard, *, with_tiles: bool = True) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": dashboard.id,
        "name": dashboard.name,
        "description": dashboard.description,
        "filters": dashboard.filters,
        "created_at": utc_text(dashboard.created_at),
    }
    if with_tiles:
        shown["tiles"] = [
            {"id": tile.id, "insight": public_insight(tile.insight)} for tile in dashboard.tiles
        ]
    return shown


def board_routes(
    context: ApiContext, insights: InsightStore, dashboards: DashboardStore
) -> list[Route]:
    def place(project_id: int, insight_id: int, wanted: list[int], had: tuple[int, ...]) -> None:
        """Put the insight on exactly the dashboards ``wanted`` (PostHog's way to add a tile)."""
        for dashboard_id in set(wanted) - set(had):
            if not dashboards.add_tile(project_id, dashboard_id, insight_id):
                raise InvalidInput(f"no dashboard {dashboard_id}", attr="dashboards")
        for dashboard_id in set(had) - set(wanted):
            dashboards.remove_tile(project_id, dashboard_id, insight_id=insight_id)

    def insight_list(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "POST":
            new = parse_body(NewInsight, body)
            created = boards.create_insight(
                insights, project.id, new.name or "", new.description or "", new.query
            )
            if new.dashboards:
                place(project.id, created.id, new.dashboards, ())
            return json_response(public_insight(_insight(insights, project.id, created.id)), 201)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = insights.list(
            project.id,
            short_id=request.query_params.get("short_id") or None,
            limit=limit,
            offset=offset,
        )
        return json_response(
            {
                "results": [public_insight(i) for i in found],
                "next": next_page(request, len(found), limit, offset),
            }
        )

    def insight(request: Request, body: Any) -> Response:
        project = context.project(request)
        insight_id = request.path_params["insight_id"]
        current = _insight(insights, project.id, insight_id)
        if request.method == "DELETE":
            insights.delete(project.id, insight_id)
            return Response(status_code=204)
        if request.method == "PATCH":
            changes = parse_body(InsightChanges, body)
            values = changes.model_dump(exclude_none=True, exclude={"dashboards"})
            if values:
                insights.update(project.id, insight_id, **values)
            if changes.dashboards is not None:
                place(project.id, insight_id, changes.dashboards, current.dashboards)
            current = _insight(insights, project.id, insight_id)
        return json_response(public_insight(current))

    def dashboard_list(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "POST":
            new = parse_body(NewDashboard, body)
            created = dashboards.create(
                project.id, new.name.strip() or "Dashboard", new.description
            )
            return json_response(public_dashboard(created), 201)
        boards.ensure_default_dashboard(dashboards, insights, project.id)
        found = dashboards.list(project.id)
        return json_response(
            {"results": [public_dashboard(d, with_tiles=False) for d in found], "next": None}
        )

    def dashboard(request: Request, body: Any) -> Response:
        project = context.project(request)
        dashboard_id = request.path_params["dashboard_id"]
        _dashboard(dashboards, project.id, dashboard_id)
        if request.method == "DELETE":
            dashboards.delete(project.id, dashboard_id)
            return Response(status_code=204)
        if request.method == "PATCH":
            changes = parse_body(DashboardChanges, body)
            values = changes.model_dump(exclude_none=True, exclude={"tiles", "filters"})
            if changes.filters is not None:
                values["filters"] = changes.filters.model_dump(exclude_none=True)
            if values:
                dashboards.update(project.id, dashboard_id, **values)
            for tile in changes.tiles or []:
                if tile.deleted:
                    dashboards.remove_tile(project.id, dashboard_id, tile_id=tile.id)
        return json_response(public_dashboard(_dashboard(dashboards, project.id, dashboard_id)))

    base = "/api/projects/{project_id:project}"
    return [
        Route(
            f"{base}/insights/",
            api_endpoint(context, insight_list, scope="insight"),
            methods=["GET", "POST"],
        ),
        Route(
            f"{base}/insights/{{insight_id:int}}/",
            api_endpoint(context, insight, scope="insight"),
            methods=["GET", "PATCH", "DELETE"],
        ),
        Route(
            f"{base}/dashboards/",
            api_endpoint(context, dashboard_list, scope="dashboard"),
            methods=["GET", "POST"],
        ),
        Route(
            f"{base}/dashboards/{{dashboard_id:int}}/",
            api_endpoint(context, dashboard, scope="dashboard"),
            methods=["GET", "PATCH", "DELETE"],
        ),
    ]


def _insight(insights: InsightStore, project_id: int, insight_id: int) -> Insight:
    found = insights.get(project_id, insight_id)
    if found is None:
        raise NotFound(f"no insight {insight_id}")
    return found


def _dashboard(dashboards: DashboardStore, project_id: int, dashboard_id: int) -> Dashboard:
    found = dashboards.get(project_id, dashboard_id)
    if found is None:
        raise NotFound(f"no dashboard {dashboard_id}")
    return found
