"""``/api/projects/{id}/persons/`` and ``/ingestion_warnings/``."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import NotFound
from magpie.http.api.common import ApiContext, api_endpoint, int_param, json_response, next_page
from magpie.store.duckdb.database import Database
from magpie.store.duckdb.person_reader import get_person, list_persons, list_warnings

MAX_LIMIT = 1000


def person_routes(context: ApiContext, db: Database) -> list[Route]:
    def persons(request: Request, body: object) -> Response:
        project = context.project(request)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        results = list_persons(
            db.cursor(),
            project.id,
            distinct_id=request.query_params.get("distinct_id") or None,
            search=request.query_params.get("search") or None,
            limit=limit,
            offset=offset,
        )
        return json_response(
            {"results": results, "next": next_page(request, len(results), limit, offset)}
        )

    def person(request: Request, body: object) -> Response:
        project = context.project(request)
        raw = request.path_params["person_uuid"]
        try:
            person_uuid = uuid.UUID(raw)
        except ValueError:
            raise NotFound(f"no person {raw!r}") from None
        found = get_person(db.cursor(), project.id, person_uuid)
        if found is None:
            raise NotFound(f"no person {raw}")
        return json_response(found)

    def warnings(request: Request, body: object) -> Response:
        project = context.project(request)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        results = list_warnings(
            db.cursor(),
            project.id,
            type_=request.query_params.get("type") or None,
            limit=limit,
            offset=offset,
        )
        return json_response(
            {"results": results, "next": next_page(request, len(results), limit, offset)}
        )

    base = "/api/projects/{project_id:int}"
    return [
        Route(f"{base}/persons/", api_endpoint(context, persons, scope="person:read")),
        Route(
            f"{base}/persons/{{person_uuid}}/", api_endpoint(context, person, scope="person:read")
        ),
        Route(f"{base}/ingestion_warnings/", api_endpoint(context, warnings, scope="event:read")),
    ]
