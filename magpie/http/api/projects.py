"""``/api/projects/``: list projects, read and change one (name, timezone, test filters)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import InvalidInput, NotFound
from magpie.http.api.common import ApiContext, api_endpoint, json_response
from magpie.query.dates import zone
from magpie.query.models import PropertyFilter
from magpie.store.duckdb.projects import Project, ProjectStore


class ProjectChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    timezone: str | None = None
    test_account_filters: list[PropertyFilter] | None = None
    week_start_day: int | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @field_validator("week_start_day")
    @classmethod
    def _week_start(cls, value: int | None) -> int | None:
        if value is not None and value not in (0, 1):
            raise ValueError("week_start_day is 0 (Sunday) or 1 (Monday)")
        return value


def _public(project: Project) -> dict[str, Any]:
    return asdict(project)


def project_routes(context: ApiContext, projects: ProjectStore) -> list[Route]:
    def list_projects(request: Request, body: Any) -> Response:
        return json_response({"results": [_public(p) for p in projects.all()], "next": None})

    def project(request: Request, body: Any) -> Response:
        current = context.project(request)
        if request.method == "GET":
            return json_response(_public(current))
        try:
            changes = ProjectChanges.model_validate(body or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InvalidInput(
                f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
                attr=str(first["loc"][0]) if first["loc"] else None,
            ) from None
        values = changes.model_dump(exclude_none=True)
        if "test_account_filters" in values:
            values["test_account_filters"] = [
                f.model_dump() for f in changes.test_account_filters or []
            ]
        updated = projects.update(current.id, **values)
        if updated is None:
            raise NotFound(f"project {current.id} does not exist")
        return json_response(_public(updated))

    return [
        Route("/api/projects/", api_endpoint(context, list_projects)),
        Route(
            "/api/projects/{project_id:int}/",
            api_endpoint(context, project),
            methods=["GET", "PATCH"],
        ),
    ]
