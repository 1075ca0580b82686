"""``/api/projects/{id}/cohorts/`` in PostHog's shape: a cohort has ``name``,
``description``, ``filters`` (its definition), ``is_static``, ``count`` and
when it was last calculated; its members are at ``…/cohorts/{id}/persons/``.

A static cohort is filled from distinct ids: a CSV file of one column sent as
the multipart field ``csv`` (PostHog's upload), or a JSON list
``distinct_ids``; each id counts for the person it belongs to.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.cohorts.definition import is_person_properties_only, parse_definition
from magpie.cohorts.service import CohortService
from magpie.errors import InvalidInput, MagpieError
from magpie.http.api.common import (
    ApiContext,
    api_endpoint,
    int_param,
    json_response,
    next_page,
    parse_body,
    utc_text,
)
from magpie.http.api.persons import public_person
from magpie.store.base import PersonReader
from magpie.store.model import Cohort

MAX_NAME = 400
MAX_DESCRIPTION = 4000
MAX_FILTERS_BYTES = 256 * 1024
MAX_DISTINCT_IDS = 1_000_000
MAX_LIMIT = 1000
# A first cell PostHog's CSV template and common exports put above the ids.
_HEADERS = frozenset({"distinct_id", "distinct_ids", "distinctid", "id", "person", "email"})


class NewCohort(BaseModel):
    model_config = ConfigDict(extra="ignore")  # PostHog clients send more (groups, query…)
    name: StrictStr = Field(default="", max_length=MAX_NAME)
    description: StrictStr = Field(default="", max_length=MAX_DESCRIPTION)
    filters: dict[str, Any] | None = None
    is_static: StrictBool = False
    distinct_ids: list[StrictStr] | None = Field(default=None, max_length=MAX_DISTINCT_IDS)


class CohortChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: StrictStr | None = Field(default=None, max_length=MAX_NAME)
    description: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION)
    filters: dict[str, Any] | None = None
    deleted: StrictBool | None = None
    distinct_ids: list[StrictStr] | None = Field(default=None, max_length=MAX_DISTINCT_IDS)


def cohort_type(cohort: Cohort) -> str:
    if cohort.is_static:
        return "static"
    try:
        only_properties = is_person_properties_only(parse_definition(cohort.filters))
    except MagpieError:
        only_properties = False
    return "person_property" if only_properties else "behavioral"


def public_cohort(cohort: Cohort) -> dict[str, Any]:
    return {
        "id": cohort.id,
        "name": cohort.name,
        "description": cohort.description,
        "filters": cohort.filters,
        "groups": [],
        "query": None,
        "is_static": cohort.is_static,
        "cohort_type": cohort_type(cohort),
        "count": cohort.count,
        "version": cohort.version,
        "is_calculating": False,
        "last_calculation": utc_text(cohort.last_calculation),
        "errors_calculating": cohort.errors_calculating,
        "last_error": cohort.last_error,
        "deleted": cohort.deleted,
        "created_by": None,
        "created_at": utc_text(cohort.created_at),
    }


def csv_distinct_ids(data: bytes) -> list[str]:
    """The first column of a CSV file, without a header cell and empty cells."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the csv file is not UTF-8 text", attr="csv") from None
    ids = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if ids and ids[0].lower() in _HEADERS:
        ids = ids[1:]
    if len(ids) > MAX_DISTINCT_IDS:
        raise InvalidInput(f"a csv file may list at most {MAX_DISTINCT_IDS:,} ids", attr="csv")
    return ids


def _from_form(body: Any) -> tuple[Any, list[str] | None]:
    """A multipart body as the JSON it stands for, and the ids of its ``csv`` file."""
    if not isinstance(body, dict) or not any(isinstance(v, bytes) for v in body.values()):
        return body, None
    fields: dict[str, Any] = {k: v for k, v in body.items() if isinstance(v, str)}
    upload = body.get("csv")
    if not isinstance(upload, bytes):
        raise InvalidInput("send the distinct ids as the file field csv", attr="csv")
    if "is_static" in fields:
        fields["is_static"] = fields["is_static"].strip().lower() in ("true", "1", "yes", "on")
    if "filters" in fields:
        try:
            fields["filters"] = orjson.loads(fields["filters"])
        except orjson.JSONDecodeError:
            raise InvalidInput("filters is not valid JSON", attr="filters") from None
    return fields, csv_distinct_ids(upload)


def _checked_filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    if filters is not None and len(orjson.dumps(filters)) > MAX_FILTERS_BYTES:
        raise InvalidInput(
            f"filters may have at most {MAX_FILTERS_BYTES // 1024} KiB of JSON", attr="filters"
        )
    return filters


def cohort_routes(
    context: ApiContext, service: CohortService, persons: PersonReader
) -> list[Route]:
    def cohort_list(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "POST":
            body, uploaded = _from_form(body)
            new = parse_body(NewCohort, body)
            ids = uploaded if uploaded is not None else new.distinct_ids
            is_static = new.is_static or ids is not None
            filters = _checked_filters(new.filters)
            if not is_static and filters is None:
                raise InvalidInput("a cohort needs filters, or is_static", attr="filters")
            made = service.create(
                project.id,
                new.name.strip() or "Untitled cohort",
                new.description,
                {} if is_static else filters or {},
                is_static=is_static,
            )
            if ids is not None:
                made = service.add_static_members(project.id, made.id, ids)
            return json_response(public_cohort(made), 201)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = service.store.list(project.id, limit=limit, offset=offset)
        return json_response(
            {
                "results": [public_cohort(c) for c in found],
                "next": next_page(request, len(found), limit, offset),
            }
        )

    def cohort(request: Request, body: Any) -> Response:
        project = context.project(request)
        cohort_id = request.path_params["cohort_id"]
        current = service.get(project.id, cohort_id)
        if request.method == "DELETE":
            service.update(project.id, cohort_id, deleted=True)
            return Response(status_code=204)
        if request.method == "PATCH":
            body, uploaded = _from_form(body)
            changes = parse_body(CohortChanges, body)
            values = changes.model_dump(exclude_none=True, exclude={"distinct_ids"})
            if "filters" in values:
                _checked_filters(values["filters"])
                if current.is_static:
                    raise InvalidInput("a static cohort has no filters", attr="filters")
            if values:
                current = service.update(project.id, cohort_id, **values)
            ids = uploaded if uploaded is not None else changes.distinct_ids
            if ids is not None and not current.deleted:
                current = service.add_static_members(project.id, cohort_id, ids)
        return json_response(public_cohort(current))

    def recalculate(request: Request, body: Any) -> Response:
        project = context.project(request)
        return json_response(
            public_cohort(service.recompute(project.id, request.path_params["cohort_id"]))
        )

    def members(request: Request, body: Any) -> Response:
        project = context.project(request)
        cohort_id = request.path_params["cohort_id"]
        service.get(project.id, cohort_id)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = service.store.members(project.id, cohort_id, limit=limit, offset=offset)
        # A member merged into another person since the last computation has no
        # record of its own any more: it is left out until the next one.
        records = [persons.get_person(project.id, person_id) for person_id in found]
        results = [public_person(r) for r in records if r is not None]
        return json_response(
            {"results": results, "next": next_page(request, len(found), limit, offset)}
        )

    def history(request: Request, body: Any) -> Response:
        """The count of each stored membership, newest first: the count over time."""
        project = context.project(request)
        cohort_id = request.path_params["cohort_id"]
        service.get(project.id, cohort_id)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = service.store.count_history(project.id, cohort_id, limit=limit, offset=offset)
        results = [
            {"version": c.version, "count": c.count, "calculated_at": utc_text(c.calculated_at)}
            for c in found
        ]
        return json_response(
            {"results": results, "next": next_page(request, len(found), limit, offset)}
        )

    base = "/api/projects/{project_id:project}/cohorts"
    return [
        Route(
            f"{base}/", api_endpoint(context, cohort_list, scope="cohort"), methods=["GET", "POST"]
        ),
        Route(
            f"{base}/{{cohort_id:int}}/",
            api_endpoint(context, cohort, scope="cohort"),
            methods=["GET", "PATCH", "DELETE"],
        ),
        Route(
            f"{base}/{{cohort_id:int}}/persons/",
            api_endpoint(context, members, scope="cohort:read"),
            methods=["GET"],
        ),
        Route(
            f"{base}/{{cohort_id:int}}/history/",
            api_endpoint(context, history, scope="cohort:read"),
            methods=["GET"],
        ),
        Route(
            f"{base}/{{cohort_id:int}}/recalculate/",
            api_endpoint(context, recalculate, scope="cohort:write"),
            methods=["POST"],
        ),
    ]
