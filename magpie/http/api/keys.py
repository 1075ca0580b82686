"""``/api/personal_api_keys/``: create, list, read and revoke personal API keys
(PostHog's fields: ``label``, ``scopes``, ``scoped_teams``, ``value`` once)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie import access
from magpie.http.api.common import ApiContext, api_endpoint, json_response, parse_body
from magpie.store.base import ApiKeyStore, ProjectStore
from magpie.store.model import ApiKey


class NewKey(BaseModel):
    # PostHog clients also send description and scoped_organizations; Magpie
    # has one organization and no descriptions, so those are ignored.
    model_config = ConfigDict(extra="ignore")
    label: StrictStr
    scopes: list[StrictStr]
    scoped_teams: list[StrictInt] | None = None


def public_key(key: ApiKey, value: str | None = None) -> dict[str, Any]:
    return {
        "id": key.id,
        "label": key.label,
        "value": value,
        "mask_value": key.mask_value,
        "scopes": list(key.scopes),
        "scoped_teams": list(key.scoped_teams),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
    }


def key_routes(context: ApiContext, api_keys: ApiKeyStore, projects: ProjectStore) -> list[Route]:
    def list_keys(request: Request, body: Any) -> Response:
        # A plain list, as PostHog answers here.
        keys = access.visible_keys(api_keys, context.key(request))
        return json_response([public_key(key) for key in keys])

    def create_key(request: Request, body: Any) -> Response:
        new = parse_body(NewKey, body)
        issued = access.issue_key(
            api_keys,
            projects,
            context.key(request),
            new.label,
            new.scopes,
            new.scoped_teams or (),
        )
        return json_response(public_key(issued.key, issued.value), 201)

    def one_key(request: Request, body: Any) -> Response:
        by, key_id = context.key(request), request.path_params["key_id"]
        if request.method == "GET":
            return json_response(public_key(access.get_key(api_keys, by, key_id)))
        revoked = access.revoke_key(api_keys, by, key_id)
        context.forget(revoked.id)
        return Response(status_code=204)

    base = "/api/personal_api_keys"
    return [
        Route(
            f"{base}/",
            api_endpoint(context, list_keys, scope="personal_api_key:read"),
            methods=["GET"],
        ),
        Route(
            f"{base}/",
            api_endpoint(context, create_key, scope="personal_api_key:write"),
            methods=["POST"],
        ),
        Route(
            f"{base}/{{key_id}}/",
            api_endpoint(context, one_key, scope="personal_api_key"),
            methods=["GET", "DELETE"],
        ),
    ]
