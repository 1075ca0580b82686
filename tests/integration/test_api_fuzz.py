"""Schemathesis over every operation of the private API, against a live Magpie on
127.0.0.1: requests built from the OpenAPI document, valid and invalid (wrong
types, missing fields, bad JSON, unknown methods, no key), must never answer
5xx; every answer must be the status, content type and schema the document
gives, and every answer that is not 2xx the API's one error shape.

``make test`` runs a small, seeded number of examples per operation; the
``slow`` variant runs many more with a fresh seed each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from magpie.http.api.schema import openapi_document
from tests.conftest import LiveServer, running_live_server

ERROR_KEYS = {"type", "code", "detail", "attr"}
BIGINT = 2**63 - 1


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with a few anonymous and identified events, so reads and queries
    have rows to work on. The fuzzer changes its settings freely."""
    with running_live_server(tmp_path_factory.mktemp("fuzz") / "data") as live:
        batch = [
            {"event": "$pageview", "distinct_id": f"anon-{i}", "properties": {"$browser": "Chrome"}}
            for i in range(5)
        ] + [
            {
                "event": "$identify",
                "distinct_id": "ada@example.com",
                "properties": {"$anon_distinct_id": "anon-1", "$set": {"email": "ada@example.com"}},
            },
            {"event": "purchase", "distinct_id": "ada@example.com", "properties": {"amount": 12.5}},
        ]
        response = httpx.post(live.url + "/batch/", json={"api_key": live.token, "batch": batch})
        response.raise_for_status()
        live.settle()
        yield live


def load_schema(max_examples: int, seed: int | None) -> Any:
    """The document the server serves (test_api_schema checks they are the same)."""
    config: dict[str, Any] = {"generation": {"max-examples": max_examples, "database": "none"}}
    if seed is not None:
        config["seed"] = seed
    return schemathesis.openapi.from_dict(
        orjson.loads(orjson.dumps(openapi_document())),
        config=schemathesis.Config.from_dict(config),
    )


# Few examples per operation in make test (over 80 operations, one live server);
# the slow variant below goes deep.
schema = load_schema(12, seed=1)
deep_schema = load_schema(500, seed=None)


def error_shape(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every answer that is not 2xx is {"type", "code", "detail", "attr"}."""
    if 200 <= response.status_code < 300:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert isinstance(body["code"], str) and body["code"], body
    assert "Traceback" not in response.text
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_shape,
]


def aim_at_the_project(case: Case, server: LiveServer) -> None:
    """A project id that could be an id becomes the real project's, so the handler
    behind it is fuzzed rather than its 404; others (text, -1, 40 digits) stay."""
    value = (case.path_parameters or {}).get("project_id")
    text = str(value)
    if not isinstance(value, bool) and text.isdigit() and len(text) <= 19 and int(text) <= BIGINT:
        case.path_parameters["project_id"] = server.project_id


def call_and_check(case: Case, server: LiveServer) -> None:
    aim_at_the_project(case, server)
    headers = {"Authorization": f"Bearer {server.credentials.personal_api_key}"}
    response = case.call(base_url=server.url, headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.mark.timeout(900)
@schema.parametrize()
def test_no_server_errors(case: Case, fuzzed_server: LiveServer) -> None:
    call_and_check(case, fuzzed_server)


@pytest.mark.slow
@deep_schema.parametrize()
def test_no_server_errors_deep(case: Case, fuzzed_server: LiveServer) -> None:
    call_and_check(case, fuzzed_server)
