"""``/api/projects/``: list and create projects, read and change one (name, timezone,
test filters, week start, path cleaning rules)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr, field_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import NotFound
from magpie.http.api.common import ApiContext, api_endpoint, json_response, parse_body
from magpie.query.dates import zone
from magpie.query.models import PropertyFilter
from magpie.query.path_items import PathCleaningFilter
from magpie.store.base import ProjectStore
from magpie.store.model import Project


class NewProject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StrictStr
    timezone: StrictStr = "UTC"


class ProjectChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    timezone: str | None = None
    test_account_filters: list[PropertyFilter] | None = None
    week_start_day: int | None = None
    path_cleaning_filters: list[PathCleaningFilter] | None = None

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

    @field_validator("path_cleaning_filters")
    @classmethod
    def _regexes(cls, value: list[PathCleaningFilter] | None) -> list[PathCleaningFilter] | None:
        for rule in value or []:
            try:
                re.compile(rule.regex)
            except re.error as exc:
                raise ValueError(f"{rule.regex!r} is not a regular expression: {exc}") from None
        return value


def public_project(project: Project) -> dict[str, Any]:
    return asdict(project)


def project_routes(
    context: ApiContext, projects: ProjectStore, create: Callable[[str, str], Project]
) -> list[Route]:
    """``create(name, timezone)`` makes a project that capture accepts at once."""

    def list_projects(request: Request, body: Any) -> Response:
        key = context.key(request)
        reachable = [p for p in projects.all() if key.reaches(p.id)]
        return json_response({"results": [public_project(p) for p in reachable], "next": None})

    def create_project(request: Request, body: Any) -> Response:
        new = parse_body(NewProject, body)
        return json_response(public_project(create(new.name, new.timezone)), 201)

    def project(request: Request, body: Any) -> Response:
        current = context.project(request)
        if request.method == "GET":
            return json_response(public_project(current))
        changes = parse_body(ProjectChanges, body)
        values = changes.model_dump(exclude_none=True)
        if "test_account_filters" in values:
            values["test_account_filters"] = [
                f.model_dump() for f in changes.test_account_filters or []
            ]
        if "path_cleaning_filters" in values:
            values["path_cleaning_filters"] = [
                f.model_dump() for f in changes.path_cleaning_filters or []
            ]
        updated = projects.update(current.id, **values)
        if updated is None:
            raise NotFound(f"project {current.id} does not exist")
        return json_response(public_project(updated))

    return [
        Route(
            "/api/projects/",
            api_endpoint(context, list_projects, scope="project:read"),
            methods=["GET"],
        ),
        Route(
            "/api/projects/",
            api_endpoint(context, create_project, scope="project:write", server_wide=True),
            methods=["POST"],
        ),
        Route(
            "/api/projects/{project_id:project}/",
            api_endpoint(context, project, scope="project"),
            methods=["GET", "PATCH"],
        ),
    ]
