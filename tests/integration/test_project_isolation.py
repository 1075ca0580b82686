"""Projects are isolated: a key scoped to one project finds nothing of another.

The routes are enumerated from the app, so a new route is covered (or the test
asks for a value for its new path parameter) without anyone remembering to.
"""

from __future__ import annotations

import httpx
import pytest

from magpie import scopes
from magpie.http.api.common import route_access
from tests.conftest import LiveServer
from tests.integration.tenants import (
    HARMLESS_BODIES,
    Tenants,
    api_routes,
    iterate_methods,
    route_url,
    two_tenants,
)

# Every /api/ route outside a project, with what a key scoped to one project
# gets from it. A new one fails test_routes_outside_projects_are_all_known
# until it is added here, with a thought about what it shows of other projects.
OUTSIDE_PROJECTS = {
    ("/api/projects/", "GET"): 200,  # lists only the key's projects
    ("/api/projects/", "POST"): 403,  # creating a project needs every project
    ("/api/personal_api_keys/", "GET"): 200,  # lists only keys no wider than itself
    ("/api/personal_api_keys/", "POST"): 400,  # (the harmless body is invalid)
    ("/api/personal_api_keys/{key_id}/", "GET"): 404,  # the owner's key, out of its reach
    ("/api/personal_api_keys/{key_id}/", "DELETE"): 404,
    ("/api/billing/quote/", "GET"): 200,  # arithmetic on the price list
    ("/api/billing/pricing/", "GET"): 403,  # the price list is the whole server's
    ("/api/billing/pricing/", "PUT"): 403,
    ("/api/ingestion/status/", "GET"): 403,  # the queue holds every project's events
    ("/api/users/", "GET"): 403,  # a user sees every project
    ("/api/users/", "POST"): 403,
    # Flag definitions name their project by its token; none is given here.
    ("/api/feature_flag/local_evaluation/", "GET"): 400,
}


# What A's key tries on B's project through the routes that take a body.
ATTEMPTS = {
    ("/api/projects/{project_id:project}/", "PATCH"): {"name": "renamed by A"},
    ("/api/projects/{project_id:project}/billing/quota/", "PUT"): {"max_events": 1},
    ("/api/projects/{project_id:project}/query/", "POST"): {
        "query": {"kind": "HogQLQuery", "query": "SELECT * FROM events"}
    },
    ("/api/projects/{project_id:project}/insights/{insight_id:int}/", "PATCH"): {"name": "A's"},
    ("/api/projects/{project_id:project}/dashboards/{dashboard_id:int}/", "PATCH"): {"name": "A's"},
    ("/api/projects/{project_id:project}/insights/", "POST"): {"query": {"kind": "TrendsQuery"}},
}


@pytest.fixture
def tenants(live_server: LiveServer) -> Tenants:
    return two_tenants(live_server)


def owner_key_id(tenants: Tenants) -> str:
    with tenants.owner() as owner:
        keys = owner.get("/api/personal_api_keys/").json()
    [first] = [k for k in keys if k["label"] == "created at first start"]
    return str(first["id"])


def test_every_project_route_answers_404_to_another_projects_key(tenants: Tenants) -> None:
    routes = [r for r in api_routes(tenants.server) if "project_id" in r.param_convertors]
    assert len(routes) >= 8
    with tenants.owner() as owner:
        before = owner.get(f"/api/projects/{tenants.b}/").json()
        quota_before = owner.get(f"/api/projects/{tenants.b}/billing/quota/").json()
    checked = []
    with tenants.api(tenants.key_a) as a, tenants.api(tenants.key_b) as b:
        for route, method in iterate_methods(routes):
            body = ATTEMPTS.get((route.path, method))
            url = route_url(route, **tenants.path_values())
            answer = a.request(method, url, json=body)
            assert answer.status_code == 404, (method, url, answer.text)
            # Exactly what a project that does not exist answers: nothing tells them apart.
            nowhere = a.request(method, url.replace(f"/{tenants.b}/", "/9999/", 1), json=body)
            assert nowhere.status_code == 404
            assert answer.json() == {
                **nowhere.json(),
                "detail": nowhere.json()["detail"].replace("9999", str(tenants.b)),
            }
            # B's own key reaches the same route, so the 404 was the isolation.
            if method == "GET":
                own = b.get(url)
                assert own.status_code == 200, (url, own.text)
            checked.append((method, route.path))
    assert ("PATCH", "/api/projects/{project_id:project}/") in checked
    with tenants.owner() as owner:
        assert owner.get(f"/api/projects/{tenants.b}/").json() == before
        assert owner.get(f"/api/projects/{tenants.b}/billing/quota/").json() == quota_before


def test_reading_another_project_finds_none_of_its_data(tenants: Tenants) -> None:
    base = f"/api/projects/{tenants.b}"
    with tenants.api(tenants.key_a) as a:
        assert a.get(f"{base}/events/").status_code == 404
        assert a.get(f"{base}/persons/").status_code == 404
        assert a.get(f"{base}/persons/{tenants.person_b}/").status_code == 404
        # B's person through A's own project is not found either.
        own_base = f"/api/projects/{tenants.a}"
        assert a.get(f"{own_base}/persons/{tenants.person_b}/").status_code == 404
        hogql = {"query": {"kind": "HogQLQuery", "query": "SELECT count() FROM events"}}
        assert a.post(f"{base}/query/", json=hogql).status_code == 404
        assert a.get(f"{base}/billing/usage/").status_code == 404
        # In its own project the same key sees its own (empty) data only.
        own = a.post(f"/api/projects/{tenants.a}/query/", json=hogql).json()
        assert own["results"] == [[0]]
    with tenants.api(tenants.key_b) as b:
        # B's $identify and $groupidentify.
        assert b.post(f"{base}/query/", json=hogql).json()["results"] == [[2]]


def test_a_key_cannot_rename_or_limit_another_project(tenants: Tenants) -> None:
    with tenants.api(tenants.key_a) as a:
        renamed = a.patch(f"/api/projects/{tenants.b}/", json={"name": "mine now"})
        limited = a.put(f"/api/projects/{tenants.b}/billing/quota/", json={"max_events": 1})
    assert renamed.status_code == 404 and limited.status_code == 404
    with tenants.owner() as owner:
        assert owner.get(f"/api/projects/{tenants.b}/").json()["name"] == "Tenant B"
        quota = owner.get(f"/api/projects/{tenants.b}/billing/quota/").json()
    assert quota["max_events"] is None


def test_the_project_list_shows_only_the_keys_projects(tenants: Tenants) -> None:
    with tenants.api(tenants.key_a) as a:
        listed = a.get("/api/projects/").json()["results"]
    assert [p["id"] for p in listed] == [tenants.a]
    assert tenants.server.token in str(listed)
    with tenants.api(tenants.key_b) as b:
        assert [p["id"] for p in b.get("/api/projects/").json()["results"]] == [tenants.b]
    with tenants.owner() as owner:
        everything = owner.get("/api/projects/").json()["results"]
    assert [p["id"] for p in everything] == [tenants.a, tenants.b]


def test_routes_outside_projects_are_all_known(tenants: Tenants) -> None:
    routes = [r for r in api_routes(tenants.server) if "project_id" not in r.param_convertors]
    found = {(route.path, method) for route, method in iterate_methods(routes)}
    assert found == set(OUTSIDE_PROJECTS)
    key_id = owner_key_id(tenants)
    with tenants.api(tenants.key_a) as a:
        for route, method in iterate_methods(routes):
            url = route_url(route, key_id=key_id)
            answer = a.request(method, url, json=HARMLESS_BODIES.get((route.path, method)))
            assert answer.status_code == OUTSIDE_PROJECTS[(route.path, method)], (
                method,
                url,
                answer.text,
            )
        listed = a.get("/api/personal_api_keys/").json()
    assert [k["label"] for k in listed] == ["a"]
    with tenants.owner() as owner:
        assert owner.get("/api/ingestion/status/").status_code == 200
        assert owner.get("/api/billing/pricing/").status_code == 200


def test_every_api_route_declares_its_scope(live_server: LiveServer) -> None:
    for route, method in iterate_methods(api_routes(live_server)):
        access = route_access(route)
        assert access is not None, f"{route.path} is not an api_endpoint"
        scope = access.scope_for(method)
        assert scopes.is_scope(scope) and scope != scopes.ALL, scope
        if method == "GET":
            assert scope.endswith(":read"), (route.path, scope)


def test_a_new_project_is_reached_by_the_owner_and_accepts_events(
    live_server: LiveServer,
) -> None:
    with live_server.api() as owner:
        created = owner.post("/api/projects/", json={"name": "Shop", "timezone": "Europe/Paris"})
        assert created.status_code == 201, created.text
        project = created.json()
        assert {"id", "name", "api_token", "timezone", "created_at"} <= set(project)
        assert project["api_token"].startswith("phc_") and project["timezone"] == "Europe/Paris"
        sent = httpx.post(
            live_server.url + "/batch/",
            json={"api_key": project["api_token"], "batch": [{"event": "e", "distinct_id": "u"}]},
        )
        assert sent.status_code == 200
        live_server.settle()
        events = owner.get(f"/api/projects/{project['id']}/events/").json()["results"]
        assert [e["event"] for e in events] == ["e"]
        assert owner.post("/api/projects/", json={"name": " "}).status_code == 400
        bad_zone = owner.post("/api/projects/", json={"name": "x", "timezone": "Mars/Base"})
        assert bad_zone.status_code == 400 and bad_zone.json()["attr"] == "timezone"
        assert owner.post("/api/projects/", json={"nom": "x"}).status_code == 400


def test_flag_definitions_of_another_project_are_not_found(tenants: Tenants) -> None:
    """Local evaluation names its project by token: another project's token answers
    as a token no project has."""
    with tenants.api(tenants.key_a) as a:
        theirs = a.get("/flags/definitions", params={"token": tenants.token_b})
        nobody = a.get("/flags/definitions", params={"token": "phc_nobody"})
        legacy = a.get("/api/feature_flag/local_evaluation/", params={"token": tenants.token_b})
    assert theirs.status_code == nobody.status_code == legacy.status_code == 404
    assert theirs.json() == nobody.json()
    with tenants.api(tenants.key_b) as b:
        own = b.get("/flags/definitions", params={"token": tenants.token_b}).json()
    assert [f["key"] for f in own["flags"]] == ["b-flag"]
