"""Flag definitions for server SDKs' local evaluation: ``/flags/definitions`` (what
posthog-python asks since April 2026) and ``/api/feature_flag/local_evaluation/``
(what it asked before). Both take the project's token in ``token`` and a personal
API key with ``feature_flag:read``, and answer 304 to an ``If-None-Match`` that
names the current definitions."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.errors import InvalidInput, NotFound
from magpie.flags.cohorts import CohortMembership
from magpie.flags.definitions import FlagDefinitions
from magpie.flags.local import definitions
from magpie.http.api.common import ApiContext, api_endpoint, encode_json
from magpie.store.base import FeatureFlagStore
from magpie.store.tokens import TokenDirectory


def definition_routes(
    context: ApiContext,
    tokens: TokenDirectory,
    store: FeatureFlagStore,
    cached: FlagDefinitions,
    cohorts: CohortMembership,
) -> list[Route]:
    def local_evaluation(request: Request, body: Any) -> Response:
        token = request.query_params.get("token")
        if not token:
            raise InvalidInput("send the project's token as ?token=phc_...", attr="token")
        project = tokens.resolve(token)
        # A project the key cannot reach answers as one that does not exist.
        if project is None or not context.key(request).reaches(project.id):
            raise NotFound("no project with this token that this key can reach")
        flags = cached.flag_set(project.id).flags
        document = definitions(project.id, flags, store.group_types(project.id), cohorts)
        payload = encode_json(document)
        etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(payload, media_type="application/json", headers=headers)

    endpoint = api_endpoint(context, local_evaluation, scope="feature_flag:read")
    return [
        Route("/flags/definitions", endpoint, methods=["GET"]),
        Route("/flags/definitions/", endpoint, methods=["GET"]),
        Route("/api/feature_flag/local_evaluation/", endpoint, methods=["GET"]),
    ]


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}
