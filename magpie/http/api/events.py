"""``/api/projects/{id}/events/``: recent events, filtered."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import InvalidInput
from magpie.http.api.common import (
    ApiContext,
    api_endpoint,
    group_type_index_param,
    int_param,
    json_response,
    next_page,
    text_param,
    time_param,
    utc_text,
)
from magpie.store.base import EventReader
from magpie.store.model import EventFilter, StoredEvent

MAX_LIMIT = 1000


def event_routes(context: ApiContext, reader: EventReader) -> list[Route]:
    def events(request: Request, body: object) -> Response:
        project = context.project(request)
        where = EventFilter(
            project_id=project.id,
            distinct_id=request.query_params.get("distinct_id") or None,
            person_id=_uuid_param(request, "person_id"),
            event=request.query_params.get("event") or None,
            after=time_param(request, "after"),
            before=time_param(request, "before"),
            property_key=text_param(request, "property"),
            property_value=text_param(request, "property_value"),
            group=group_param(request),
            limit=int_param(request, "limit", 100, low=1, high=MAX_LIMIT),
            offset=int_param(request, "offset", 0, low=0, high=10**9),
        )
        results = [public_event(e) for e in reader.list_events(where)]
        return json_response(
            {
                "results": results,
                "next": next_page(request, len(results), where.limit, where.offset),
            }
        )

    return [
        Route(
            "/api/projects/{project_id:project}/events/",
            api_endpoint(context, events, scope="event:read"),
        )
    ]


def public_event(event: StoredEvent) -> dict[str, object]:
    return {
        "id": str(event.uuid),
        "uuid": str(event.uuid),
        "event": event.event,
        "distinct_id": event.distinct_id,
        "timestamp": utc_text(event.timestamp),
        "properties": event.properties,
        "elements_chain": event.elements_chain,
        "person_id": str(event.person_id),
        "person_mode": event.person_mode,
    }


def group_param(request: Request) -> tuple[int, str] | None:
    """``group_type_index`` with ``group_key``: one group's events (neither: any)."""
    key = text_param(request, "group_key")
    if key is None:
        return None
    return (group_type_index_param(request), key)


def _uuid_param(request: Request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a UUID", attr=name) from None
