"""What the SDKs fetch besides capture: ``/flags``, ``/decide`` and the remote config."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.capture.decoding import DECODERS, Decoder, WireRequest, decode_payload
from magpie.capture.parsing import load_json
from magpie.capture.rules import clean_token
from magpie.errors import (
    IngestKeyRequired,
    IngestKeyUnknown,
    InvalidInput,
    MagpieError,
    PayloadTooLarge,
    RequestParsingError,
    UnsupportedEncoding,
)
from magpie.flags.kept import NotKept
from magpie.flags.remote import FlagsRequest, RemoteEvaluation
from magpie.flags.responses import FlagResult, FlagsContext, remote_config, render
from magpie.http.cors import cors_headers, cors_json, public_endpoint
from magpie.http.requests import Network, wire_request
from magpie.store.model import Project
from magpie.store.tokens import TokenDirectory

FLAGS_BODY_LIMIT = 1024 * 1024
# Bodies up to this size, raw and decoded, are decoded on the event loop (SDKs
# send a few hundred bytes); larger ones, up to the limit, in a thread, so a
# hostile body never holds the loop for long.
KEPT_BODY_LIMIT = 16 * 1024
# Response versions are small numbers; nine digits still fit any integer type.
_VERSION = re.compile(r"[0-9]{1,9}")
_CONFIG_JS = """(function() {
    window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};
    window._POSTHOG_REMOTE_CONFIG[%s] = {config: %s, siteApps: []};
})();
"""


def flags_routes(
    tokens: TokenDirectory, trusted_proxies: Sequence[Network], remote: RemoteEvaluation
) -> list[Route]:
    def project_for(token: object) -> Project:
        if token is None:
            raise IngestKeyRequired("send the project token as token or api_key")
        project = tokens.resolve(clean_token(token))
        if project is None:
            raise IngestKeyUnknown("no project has this token")
        return project

    async def evaluate(request: Request, endpoint: str) -> Response:
        version = _version(request)
        wire = await wire_request(request, FLAGS_BODY_LIMIT * 2, trusted_proxies)
        overrides_only = request.query_params.get("only_use_override_person_properties") == "true"

        def answer() -> tuple[Project, list[FlagResult], bool]:
            body = decode_flags_body(wire)
            project = project_for(_token(body))
            if body.get("disable_flags") is True:
                return project, [], False
            flags, errors = remote.evaluate(
                project.id, FlagsRequest.from_body(body), overrides_only=overrides_only
            )
            return project, flags, errors

        def kept_answer() -> tuple[Project, list[FlagResult], bool] | None:
            """The answer from memory alone, on the event loop: a small body, and a
            token, flags, persons, groups and cohorts all kept (most requests)."""
            if len(wire.body) > KEPT_BODY_LIMIT:
                return None
            try:
                body = decode_flags_body(wire, KEPT_BODY_LIMIT)
            except PayloadTooLarge:
                return None  # a small body that inflates: decoded again in the thread
            token = _token(body)
            project = tokens.kept(clean_token(token)) if token is not None else None
            if project is None:
                return None
            if body.get("disable_flags") is True:
                return project, [], False
            try:
                flags = remote.evaluate_kept(
                    project.id, FlagsRequest.from_body(body), overrides_only=overrides_only
                )
            except NotKept:
                return None
            return project, flags, False

        # Otherwise off the event loop: the server's API and health checks share it.
        kept = kept_answer()
        project, flags, errors = kept if kept is not None else await asyncio.to_thread(answer)
        context = FlagsContext(_request_id(), int(time.time() * 1000), errors)
        rendered = render(endpoint, version, flags, context)
        if endpoint == "decide" or request.query_params.get("config") == "true":
            rendered = {
                **remote_config(project.api_token, has_feature_flags=remote.has_flags(project.id)),
                "config": {"enable_collect_everything": True},
                **rendered,
            }
        return _json(rendered, request)

    async def config_json(request: Request) -> Response:
        project = project_for(request.path_params["token"])
        has_flags = await asyncio.to_thread(remote.has_flags, project.id)
        return _json(remote_config(project.api_token, has_feature_flags=has_flags), request)

    async def config_js(request: Request) -> Response:
        project = project_for(request.path_params["token"])
        has_flags = await asyncio.to_thread(remote.has_flags, project.id)
        config = remote_config(project.api_token, has_feature_flags=has_flags)
        script = _CONFIG_JS % (
            orjson.dumps(project.api_token).decode(),
            orjson.dumps(config).decode(),
        )
        return Response(
            script,
            media_type="application/javascript",
            headers={**cors_headers(request), "Cache-Control": "max-age=60"},
        )

    async def flags(request: Request) -> Response:
        return await evaluate(request, "flags")

    async def decide(request: Request) -> Response:
        return await evaluate(request, "decide")

    routes = []
    for path, handler in (("/flags", flags), ("/decide", decide)):
        for variant in (path, path + "/"):
            routes.append(
                Route(
                    variant,
                    public_endpoint(handler, MagpieError.api_body),
                    methods=["GET", "POST", "OPTIONS"],
                )
            )
    routes.append(
        Route(
            "/array/{token}/config",
            public_endpoint(config_json, MagpieError.api_body),
            methods=["GET"],
        )
    )
    routes.append(
        Route(
            "/array/{token}/config.js",
            public_endpoint(config_js, MagpieError.api_body),
            methods=["GET"],
        )
    )
    return routes


def _token(body: Mapping[str, Any]) -> object:
    return body.get("token") or body.get("api_key") or body.get("$token")


def decode_flags_body(wire: WireRequest, limit: int = FLAGS_BODY_LIMIT) -> dict[str, Any]:
    """The JSON object of a /flags or /decide request.

    Linear C-speed work bounded by ``limit`` (gzip, base64, JSON).
    lz64, pure Python, is refused: PostHog's flags endpoint is documented to
    take gzip and base64 (compat §6.1), and no SDK sends it lz64.
    """
    body = load_json(decode_payload(wire, limit, legacy_path=False, decoders=_DECODERS))
    if not isinstance(body, dict):
        raise RequestParsingError("the body must be a JSON object")
    return body


def _no_lz64(payload: bytes, limit: int) -> bytes:
    raise UnsupportedEncoding("/flags and /decide take gzip or base64, not lz64")


_DECODERS: Mapping[str, Decoder] = {**DECODERS, "lz64": _no_lz64}


def _version(request: Request) -> int | None:
    raw = request.query_params.get("v", "")
    if not raw:
        return None
    # str.isdigit() accepts '²', which int() refuses; and int() refuses (slowly)
    # thousands of digits.
    if not _VERSION.fullmatch(raw):
        raise InvalidInput("v must be a response version such as 2 or 4", attr="v")
    return int(raw)


def _request_id() -> str:
    """A version-4 UUID naming the response. Not from ``uuid.uuid4()``: its
    ``os.urandom`` releases the GIL on the event loop, which then waits for the
    ingest threads to hand it back; an id needs no cryptographic randomness."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _json(body: object, request: Request) -> Response:
    return cors_json(orjson.dumps(body), 200, request)
