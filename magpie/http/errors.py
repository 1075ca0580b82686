"""Errors that happen outside any handler: routing, unknown methods, and crashes.

They answer in the private API's one error shape, like every API handler, so a
client never has to parse plain text: 404 ``not_found`` for an unknown path
(a project id too large to be an id included), 405 ``method_not_allowed``, and
500 ``internal_error`` for anything unexpected, without its stack trace (that
goes to the log).
"""

from __future__ import annotations

from starlette.convertors import Convertor, IntegerConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from magpie.errors import MagpieError, as_outage
from magpie.http.api.common import CURRENT_PROJECT, error_response, json_response

# Ids are BIGINTs in the stores: at most 19 digits.
MAX_ID_DIGITS = 19


class StoreIdConvertor(IntegerConvertor):
    """``{name:int}``, but only for numbers a store id can be.

    Starlette's own converter turns any run of digits into an int, so a
    5,000-digit id failed inside routing (Python refuses to convert that many
    digits) and a 40-digit one inside the database. A longer number does not
    match the route, and so answers 404 like any id that does not exist.
    """

    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"


class ProjectIdConvertor(Convertor[int | str]):
    """``{project_id:project}``: a project's store id, or ``@current``, which the
    API resolves from the request (``ApiContext``) as PostHog's SDKs expect."""

    regex = f"{StoreIdConvertor.regex}|{CURRENT_PROJECT}"

    def convert(self, value: str) -> int | str:
        return value if value == CURRENT_PROJECT else int(value)

    def to_string(self, value: int | str) -> str:
        return str(value)


def install_id_convertor() -> None:
    """Make ``:int`` in route paths a store id, and ``:project`` a project id or
    ``@current``. Call before building routes."""
    register_url_convertor("int", StoreIdConvertor())
    register_url_convertor("project", ProjectIdConvertor())


def _shown(path: str) -> str:
    return path if len(path) <= 200 else path[:200] + "…"


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods (and Starlette's other HTTP errors)."""
    status = getattr(exc, "status_code", 500)
    if status == 404:
        code, detail = "not_found", f"no such path: {_shown(request.url.path)}"
    elif status == 405:
        code, detail = "method_not_allowed", f"{request.method} is not allowed here"
    else:
        code = "http_error"
        detail = exc.detail if isinstance(exc, HTTPException) and exc.detail else "request failed"
    response = json_response(
        {"type": "invalid_request", "code": code, "detail": detail, "attr": None}, status
    )
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # Allow: on a 405
    return response


async def internal_error(request: Request, exc: Exception) -> Response:
    """The last resort for an exception nothing else handled. Starlette raises it
    again once this answer is sent, so the server logs it with its traceback."""
    if isinstance(exc, MagpieError):
        return json_response(exc.api_body(), exc.status)
    if (outage := as_outage(exc)) is not None:
        return error_response(outage)
    return json_response(MagpieError("internal error").api_body(), 500)
