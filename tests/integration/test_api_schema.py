"""GET /api/schema/: an OpenAPI 3.1 document of every private API route."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import orjson
from openapi_spec_validator import validate
from starlette.routing import Route

from magpie.app import Magpie, create_app
from magpie.http.api.schema import openapi_document
from magpie.query.kinds import KINDS
from magpie.settings import Settings
from tests.conftest import LiveServer


def test_served_without_a_key(live_server: LiveServer) -> None:
    response = httpx.get(live_server.url + "/api/schema/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == orjson.loads(orjson.dumps(openapi_document()))


def test_a_valid_openapi_document() -> None:
    document = orjson.loads(orjson.dumps(openapi_document()))
    validate(document)
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    assert {"HogQLQuery", "TrendsQuery", "EventsNode", "PropertyFilter", "Error"} <= set(schemas)
    query = document["paths"]["/api/projects/{project_id}/query/"]["post"]
    body = query["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["query"]["oneOf"] == [
        {"$ref": f"#/components/schemas/{kind}"} for kind in KINDS
    ]
    assert {"HogQLQuery", "TrendsQuery", "FunnelsQuery", "RetentionQuery", "ActorsQuery"} <= set(
        KINDS
    )


def test_every_api_route_is_described(tmp_path: Path) -> None:
    """A new /api/ route needs an Operation in magpie/http/api/schema.py, and the other
    way round."""
    magpie = Magpie(Settings.load(env={}, data_dir=tmp_path / "data"))
    try:
        app = create_app(magpie)
    finally:
        magpie.close()
    served = {
        (method.lower(), re.sub(r":\w+}", "}", route.path))
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {
        (method, path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    assert served == described


def test_path_parameters_are_declared() -> None:
    for path, operations in openapi_document()["paths"].items():
        in_path = set(re.findall(r"{(\w+)}", path))
        for method, operation in operations.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == in_path, (method, path)
