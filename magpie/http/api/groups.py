"""``/api/projects/{id}/groups/`` and ``/groups_types/``: groups as PostHog's API
shows them (a group's events are the events API's ``group_type_index`` with
``group_key``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import NotFound
from magpie.http.api.common import (
    ApiContext,
    SyncHandler,
    api_endpoint,
    group_type_index_param,
    int_param,
    json_response,
    next_page,
    text_param,
    utc_text,
)
from magpie.store.base import GroupReader
from magpie.store.model import GroupRecord, PropertyCount

MAX_LIMIT = 1000
MAX_VALUES = 20  # property values shown, as PostHog shows them


def group_routes(context: ApiContext, reader: GroupReader) -> list[Route]:
    def group_types(request: Request, body: object) -> Response:
        project = context.project(request)
        return json_response(
            [
                {
                    "group_type": name,
                    "group_type_index": index,
                    "name_singular": None,
                    "name_plural": None,
                }
                for index, name in sorted(reader.group_types(project.id).items())
            ]
        )

    def groups(request: Request, body: object) -> Response:
        project = context.project(request)
        index = group_type_index_param(request)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = reader.list_groups(
            project.id,
            index,
            search=text_param(request, "search"),
            key_contains=text_param(request, "group_key"),
            limit=limit,
            offset=offset,
        )
        return json_response(
            {
                "results": [public_group(g) for g in found],
                "next": next_page(request, len(found), limit, offset),
                "previous": None,
            }
        )

    def find(request: Request, body: object) -> Response:
        project = context.project(request)
        index = group_type_index_param(request)
        key = text_param(request, "group_key", required=True)
        assert key is not None
        group = reader.get_group(project.id, index, key)
        if group is None:
            raise NotFound(f"no group {key!r} of type {index}")
        return json_response(public_group(group))

    def property_definitions(request: Request, body: object) -> Response:
        project = context.project(request)
        return json_response(
            {
                str(index): [_count(c) for c in counts]
                for index, counts in sorted(reader.property_names(project.id).items())
            }
        )

    def property_values(request: Request, body: object) -> Response:
        project = context.project(request)
        index = group_type_index_param(request)
        key = text_param(request, "key", required=True)
        assert key is not None
        values = reader.property_values(
            project.id,
            index,
            key,
            value_contains=text_param(request, "value"),
            limit=MAX_VALUES,
        )
        return json_response({"results": [_count(v) for v in values], "refreshing": False})

    base = "/api/projects/{project_id:project}"

    def read(path: str, handler: SyncHandler) -> Route:
        return Route(f"{base}/{path}", api_endpoint(context, handler, scope="group:read"))

    return [
        read("groups_types/", group_types),
        read("groups/", groups),
        read("groups/find/", find),
        read("groups/property_definitions/", property_definitions),
        read("groups/property_values/", property_values),
    ]


def public_group(group: GroupRecord) -> dict[str, Any]:
    return {
        "group_type_index": group.group_type_index,
        "group_key": group.group_key,
        "group_properties": group.properties,
        "created_at": utc_text(group.created_at),
    }


def _count(found: PropertyCount) -> dict[str, Any]:
    return {"name": found.name, "count": found.count}
