"""``/api/projects/{id}/persons/`` and ``/ingestion_warnings/``."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import NotFound
from magpie.http.api.common import (
    ApiContext,
    api_endpoint,
    int_param,
    json_response,
    next_page,
    utc_text,
)
from magpie.store.base import PersonReader
from magpie.store.model import MergeEvent, PersonRecord, StoredWarning

MAX_LIMIT = 1000


def person_routes(context: ApiContext, reader: PersonReader) -> list[Route]:
    def persons(request: Request, body: object) -> Response:
        project = context.project(request)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = reader.list_persons(
            project.id,
            distinct_id=request.query_params.get("distinct_id") or None,
            search=request.query_params.get("search") or None,
            limit=limit,
            offset=offset,
        )
        results = [public_person(p) for p in found]
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
        one = reader.get_person(project.id, person_uuid)
        if one is None:
            raise NotFound(f"no person {raw}")
        return json_response(public_person(one))

    def warnings(request: Request, body: object) -> Response:
        project = context.project(request)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        results = [
            public_warning(w)
            for w in reader.list_warnings(
                project.id,
                type_=request.query_params.get("type") or None,
                limit=limit,
                offset=offset,
            )
        ]
        return json_response(
            {"results": results, "next": next_page(request, len(results), limit, offset)}
        )

    base = "/api/projects/{project_id:project}"
    return [
        Route(f"{base}/persons/", api_endpoint(context, persons, scope="person:read")),
        Route(
            f"{base}/persons/{{person_uuid}}/", api_endpoint(context, person, scope="person:read")
        ),
        Route(f"{base}/ingestion_warnings/", api_endpoint(context, warnings, scope="event:read")),
    ]


def public_person(person: PersonRecord) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": str(person.uuid),
        "uuid": str(person.uuid),
        "properties": person.properties,
        "is_identified": person.is_identified,
        "created_at": utc_text(person.created_at),
        "last_seen_at": utc_text(person.last_seen_at),
        "version": person.version,
        "distinct_ids": person.distinct_ids,
    }
    if person.merge_history is not None:
        shown["merge_history"] = [_public_merge(m) for m in person.merge_history]
    return shown


def _public_merge(merge: MergeEvent) -> dict[str, Any]:
    return {
        "event_timestamp": utc_text(merge.event_timestamp),
        "recorded_at": utc_text(merge.recorded_at),
        "event_uuid": str(merge.event_uuid) if merge.event_uuid else None,
        "event": merge.event,
        "kind": merge.kind,
        "source_person_uuid": str(merge.source_person_uuid) if merge.source_person_uuid else None,
        "target_person_uuid": str(merge.target_person_uuid),
        "distinct_ids": merge.distinct_ids,
    }


def public_warning(warning: StoredWarning) -> dict[str, Any]:
    return {
        "type": warning.type,
        "details": warning.details,
        "event_uuid": str(warning.event_uuid) if warning.event_uuid else None,
        "timestamp": utc_text(warning.timestamp),
    }
