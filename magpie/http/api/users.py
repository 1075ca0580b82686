"""``/api/users/``: the web UI's accounts, listed and added (by a logged-in user,
or a key with the ``user`` scope that reaches every project)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie import accounts
from magpie.http.api.common import ApiContext, api_endpoint, json_response, parse_body, utc_text
from magpie.store.base import UserStore
from magpie.store.model import User


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: StrictStr
    password: StrictStr


def public_user(user: User) -> dict[str, Any]:
    # Never the password hash.
    return {"id": user.id, "email": user.email, "created_at": utc_text(user.created_at)}


def user_routes(context: ApiContext, users: UserStore) -> list[Route]:
    def user_list(request: Request, body: Any) -> Response:
        if request.method == "POST":
            new = parse_body(NewUser, body)
            return json_response(
                public_user(accounts.add_user(users, new.email, new.password)), 201
            )
        return json_response({"results": [public_user(u) for u in users.all()], "next": None})

    return [
        Route(
            "/api/users/",
            api_endpoint(context, user_list, scope="user", server_wide=True),
            methods=["GET", "POST"],
        )
    ]
