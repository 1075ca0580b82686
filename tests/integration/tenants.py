"""Two projects on one server and a personal API key scoped to each, and the
API routes as the app declares them, for the isolation and key tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.routing import Route

from magpie.app import create_app
from magpie.http.api.common import route_access
from tests.conftest import LiveServer


@dataclass
class Tenants:
    server: LiveServer
    a: int  # the server's first project
    b: int
    key_a: str  # every scope, project a only
    key_b: str  # every scope, project b only
    person_b: str  # a person of project b
    insight_b: int  # an insight of project b (its first dashboard's)
    dashboard_b: int  # project b's first dashboard
    cohort_b: int  # a (static) cohort of project b, holding its person
    flag_b: int  # a feature flag of project b
    action_b: int  # an action of project b
    token_b: str  # project b's token

    def path_values(self) -> dict[str, object]:
        """Values for every path parameter, naming project b's things."""
        return {
            "project_id": self.b,
            "person_uuid": self.person_b,
            "insight_id": self.insight_b,
            "dashboard_id": self.dashboard_b,
            "cohort_id": self.cohort_b,
            "flag_id": self.flag_b,
            "action_id": self.action_b,
            "token": self.token_b,
        }

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    def owner(self) -> httpx.Client:
        """The key made at first start: every scope, every project."""
        return self.server.api()


def create_key(api: httpx.Client, **fields: Any) -> httpx.Response:
    return api.post("/api/personal_api_keys/", json={"label": "test", "scopes": ["*"], **fields})


def new_key(api: httpx.Client, **fields: Any) -> str:
    response = create_key(api, **fields)
    assert response.status_code == 201, response.text
    return str(response.json()["value"])


def two_tenants(server: LiveServer) -> Tenants:
    with server.api() as owner:
        created = owner.post("/api/projects/", json={"name": "Tenant B"})
        assert created.status_code == 201, created.text
        b = created.json()
        key_a = new_key(owner, label="a", scoped_teams=[server.project_id])
        key_b = new_key(owner, label="b", scoped_teams=[b["id"]])
    sent = httpx.post(
        server.url + "/batch/",
        json={
            "api_key": b["api_token"],
            "batch": [
                {"event": "$identify", "distinct_id": "b-user", "$set": {"secret": 1}},
                {
                    "event": "$groupidentify",
                    "distinct_id": "b-user",
                    "properties": {
                        "$group_type": "company",
                        "$group_key": "b-co",
                        "$group_set": {"plan": "b's"},
                    },
                },
            ],
        },
    )
    assert sent.status_code == 200, sent.text
    server.settle()
    with server.api() as owner:
        people = owner.get(f"/api/projects/{b['id']}/persons/").json()["results"]
        [board] = owner.get(f"/api/projects/{b['id']}/dashboards/").json()["results"]
        insight = owner.get(f"/api/projects/{b['id']}/insights/").json()["results"][0]
        cohort = owner.post(
            f"/api/projects/{b['id']}/cohorts/",
            json={"name": "B's", "is_static": True, "distinct_ids": ["b-user"]},
        ).json()
        flag = owner.post(f"/api/projects/{b['id']}/feature_flags/", json={"key": "b-flag"}).json()
        action = owner.post(
            f"/api/projects/{b['id']}/actions/",
            json={"name": "B's", "steps": [{"event": "$pageview"}]},
        ).json()
    return Tenants(
        server,
        server.project_id,
        b["id"],
        key_a,
        key_b,
        people[0]["uuid"],
        insight["id"],
        board["id"],
        cohort["id"],
        flag["id"],
        action["id"],
        b["api_token"],
    )


# Routes under /api/ that need no key: they show nothing of any project.
PUBLIC_ROUTES = {"/api/schema/"}


def api_routes(server: LiveServer) -> list[Route]:
    """Every /api/ route that takes a key (a public one must be listed above)."""
    routes = [
        route
        for route in create_app(server.magpie).routes
        if isinstance(route, Route) and route.path.startswith("/api/")
    ]
    for route in routes:
        assert (route_access(route) is None) == (route.path in PUBLIC_ROUTES), route.path
    return [route for route in routes if route.path not in PUBLIC_ROUTES]


def methods(route: Route) -> list[str]:
    return sorted((route.methods or {"GET"}) - {"HEAD"})


def declared_scope(route: Route, method: str) -> str:
    access = route_access(route)
    assert access is not None, f"{route.path} is not an api_endpoint"
    return access.scope_for(method)


# Routes that name their project in the query string rather than the path.
ROUTE_QUERIES = {
    "/api/feature_flag/local_evaluation/": "?token={token}",
    # The groups routes need a group type, and one of B's groups and properties.
    "/api/projects/{project_id:project}/groups/": "?group_type_index=0",
    "/api/projects/{project_id:project}/groups/find/": "?group_type_index=0&group_key=b-co",
    "/api/projects/{project_id:project}/groups/property_values/": "?group_type_index=0&key=plan",
}


def route_url(route: Route, **values: object) -> str:
    """The route's path with its parameters filled from ``values`` (and its query,
    when the values it needs are given)."""
    missing = set(route.param_convertors) - set(values)
    assert not missing, f"{route.path}: give the tests a value for {sorted(missing)}"
    url = route.path_format.format(**{name: values[name] for name in route.param_convertors})
    query = ROUTE_QUERIES.get(route.path)
    if query is not None and "token" in values:
        url += query.format(**values)
    return url


# Requests a route would refuse as invalid input: they show whether the checks
# before the handler let them through, and change nothing.
HARMLESS_BODIES: dict[tuple[str, str], Any] = {
    ("/api/projects/", "POST"): {"name": ""},
    ("/api/projects/{project_id:project}/", "PATCH"): {"week_start_day": 5},
    ("/api/projects/{project_id:project}/query/", "POST"): {},
    ("/api/projects/{project_id:project}/billing/quota/", "PUT"): {"max_events": "lots"},
    ("/api/billing/pricing/", "PUT"): {"tiers": [{"up_to": 5}]},
    ("/api/personal_api_keys/", "POST"): {"label": "", "scopes": ["*"]},
    ("/api/projects/{project_id:project}/insights/", "POST"): {"name": "no query"},
    ("/api/projects/{project_id:project}/insights/{insight_id:int}/", "PATCH"): {"query": 5},
    ("/api/projects/{project_id:project}/dashboards/", "POST"): {"name": ""},
    ("/api/projects/{project_id:project}/dashboards/{dashboard_id:int}/", "PATCH"): {"name": ""},
    ("/api/users/", "POST"): {"email": "", "password": ""},
    ("/api/projects/{project_id:project}/cohorts/", "POST"): {"filters": "everyone"},
    ("/api/projects/{project_id:project}/cohorts/{cohort_id:int}/", "PATCH"): {"name": 5},
    ("/api/projects/{project_id:project}/feature_flags/", "POST"): {"key": ""},
    ("/api/projects/{project_id:project}/feature_flags/{flag_id:int}/", "PATCH"): {"key": ""},
}


def iterate_methods(routes: list[Route]) -> Iterator[tuple[Route, str]]:
    for route in routes:
        for method in methods(route):
            yield route, method
