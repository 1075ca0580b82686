"""``/api/projects/{id}/actions/`` in PostHog's shape: an action has ``name``,
``description``, ``tags`` and ``steps`` (an event matches when it matches any
step; magpie/query/actions.py says how a step matches and which parts are
refused). Deleting one is a soft delete (PATCH ``{"deleted": true}`` or
DELETE): insights that name it are then refused with ``unknown_action``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.clock import Clock, utc_naive
from magpie.errors import NotFound
from magpie.http.api.common import (
    ApiContext,
    api_endpoint,
    int_param,
    json_response,
    next_page,
    parse_body,
    utc_text,
)
from magpie.query.actions import checked_steps
from magpie.store.base import ActionStore
from magpie.store.model import Action

MAX_NAME = 400
MAX_DESCRIPTION = 4000
MAX_TAGS = 100
MAX_LIMIT = 1000
Tag = StrictStr


class NewAction(BaseModel):
    model_config = ConfigDict(extra="ignore")  # PostHog clients send more (post_to_slack …)
    name: StrictStr = Field(min_length=1, max_length=MAX_NAME)
    description: StrictStr = Field(default="", max_length=MAX_DESCRIPTION)
    steps: list[Any] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)


class ActionChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: StrictStr | None = Field(default=None, max_length=MAX_DESCRIPTION)
    steps: list[Any] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=MAX_TAGS)
    deleted: StrictBool | None = None


def public_action(action: Action) -> dict[str, Any]:
    return {
        "id": action.id,
        "team_id": action.project_id,
        "name": action.name,
        "description": action.description,
        "tags": action.tags,
        "steps": action.steps,
        "created_at": utc_text(action.created_at),
        "updated_at": utc_text(action.updated_at),
        "created_by": None,
        "deleted": action.deleted,
        "is_calculating": False,
        "last_calculated_at": utc_text(action.updated_at),
        "post_to_slack": False,
        "slack_message_format": "",
        "is_action": True,
        "bytecode_error": None,
        "pinned_at": None,
    }


def action_routes(context: ApiContext, actions: ActionStore, clock: Clock) -> list[Route]:
    def now() -> Any:
        return utc_naive(clock.now())

    def action_list(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "POST":
            new = parse_body(NewAction, body)
            made = actions.create(
                project.id,
                new.name,
                description=new.description,
                steps=checked_steps(new.steps, now()),
                tags=new.tags,
            )
            return json_response(public_action(made), 201)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = actions.list(project.id, limit=limit, offset=offset)
        return json_response(
            {
                "results": [public_action(a) for a in found],
                "next": next_page(request, len(found), limit, offset),
            }
        )

    def action(request: Request, body: Any) -> Response:
        project = context.project(request)
        action_id = request.path_params["action_id"]
        current = actions.get(project.id, action_id)
        if current is None or current.deleted:
            raise NotFound(f"no action {action_id}")
        if request.method == "DELETE":
            actions.update(project.id, action_id, deleted=True)
            return Response(status_code=204)
        if request.method == "PATCH":
            values = parse_body(ActionChanges, body).model_dump(exclude_none=True)
            if "steps" in values:
                values["steps"] = checked_steps(values["steps"], now())
            if values:
                current = actions.update(project.id, action_id, **values) or current
        return json_response(public_action(current))

    base = "/api/projects/{project_id:project}/actions"
    return [
        Route(
            f"{base}/", api_endpoint(context, action_list, scope="action"), methods=["GET", "POST"]
        ),
        Route(
            f"{base}/{{action_id:int}}/",
            api_endpoint(context, action, scope="action"),
            methods=["GET", "PATCH", "DELETE"],
        ),
    ]
