"""``POST /api/projects/{id}/query/`` (PostHog's query API)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.clock import Clock
from magpie.errors import InvalidInput
from magpie.http.api.common import ApiContext, api_endpoint, json_response
from magpie.query.context import ActionSource, QueryContext
from magpie.query.kinds import run_query
from magpie.query.runner import QueryRunner


def query_routes(
    context: ApiContext, runner: QueryRunner, clock: Clock, actions: ActionSource | None = None
) -> list[Route]:
    def query(request: Request, body: Any) -> Response:
        project = context.project(request)
        if not isinstance(body, dict) or "query" not in body:
            raise InvalidInput('send {"query": {"kind": ...}}', attr="query")
        result = run_query(
            body["query"], QueryContext(project, runner, clock.now(), actions=actions)
        )
        return json_response(result)

    return [
        Route(
            "/api/projects/{project_id:project}/query/",
            api_endpoint(context, query, scope="query:read"),
            methods=["POST"],
        )
    ]
