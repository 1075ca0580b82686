"""Personal API keys: created with scopes and projects, listed without their
values, revoked at once, never wider than the key that makes them; failed
authentication is rate limited; the CLI manages projects and keys with and
without a running server."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import pytest

from magpie.app import Magpie
from magpie.settings import Settings
from magpie.store.duckdb import schema
from tests.conftest import ROOT, LiveServer, free_port, running_live_server, spawn_server
from tests.integration.tenants import (
    HARMLESS_BODIES,
    Tenants,
    api_routes,
    create_key,
    declared_scope,
    iterate_methods,
    new_key,
    route_url,
    two_tenants,
)

KEY_FIELDS = {
    "id",
    "label",
    "value",
    "mask_value",
    "scopes",
    "scoped_teams",
    "created_at",
    "last_used_at",
}


@pytest.fixture
def tenants(live_server: LiveServer) -> Tenants:
    return two_tenants(live_server)


def test_create_list_use_and_revoke(live_server: LiveServer) -> None:
    with live_server.api() as owner:
        created = create_key(owner, label="ci", scopes=["event:read"])
        assert created.status_code == 201, created.text
        key = created.json()
        assert set(key) == KEY_FIELDS
        assert key["value"].startswith("phx_") and key["scopes"] == ["event:read"]
        assert key["scoped_teams"] == [] and key["last_used_at"] is None
        assert key["mask_value"].startswith(key["value"][:8])
        assert key["mask_value"].endswith(key["value"][-4:])

        with httpx.Client(
            base_url=live_server.url, headers={"Authorization": f"Bearer {key['value']}"}
        ) as ci:
            assert ci.get(f"/api/projects/{live_server.project_id}/events/").status_code == 200

            listed = owner.get("/api/personal_api_keys/").json()
            assert [k["label"] for k in listed] == ["created at first start", "ci"]
            mine = next(k for k in listed if k["id"] == key["id"])
            assert mine["value"] is None and key["value"] not in json.dumps(listed)
            assert mine["last_used_at"] is not None
            assert owner.get(f"/api/personal_api_keys/{key['id']}/").json()["label"] == "ci"

            # The key was just used, so it is in the server's cache of valid keys.
            assert owner.delete(f"/api/personal_api_keys/{key['id']}/").status_code == 204
            refused = ci.get(f"/api/projects/{live_server.project_id}/events/")
            assert refused.status_code == 401 and refused.json()["code"] == "not_authenticated"
        assert owner.delete(f"/api/personal_api_keys/{key['id']}/").status_code == 404
        assert [k["label"] for k in owner.get("/api/personal_api_keys/").json()] == [
            "created at first start"
        ]


def test_invalid_keys_are_refused(live_server: LiveServer) -> None:
    with live_server.api() as owner:
        for fields, attr in (
            ({"scopes": ["nope"]}, "scopes"),
            ({"scopes": ["insight:delete"]}, "scopes"),
            ({"scopes": []}, "scopes"),
            ({"label": "  "}, "label"),
            ({"scoped_teams": [999]}, "scoped_teams"),
            ({"scoped_teams": ["1"]}, "scoped_teams"),
        ):
            refused = create_key(owner, **fields)
            assert refused.status_code == 400, fields
            assert refused.json()["attr"] == attr and refused.json()["code"] == "invalid_input"
        assert create_key(owner, scopes=["nope"]).json()["detail"] == "Invalid scope: nope"
        no_scopes = owner.post("/api/personal_api_keys/", json={"label": "x"})
        assert no_scopes.status_code == 400 and no_scopes.json()["attr"] == "scopes"


def test_every_route_needs_its_declared_scope(tenants: Tenants) -> None:
    """A key without the route's scope gets 403 naming it; with exactly it, gets through."""
    with tenants.owner() as owner:
        unrelated = new_key(owner, label="unrelated", scopes=["notebook:read"])
        key_id = owner.get("/api/personal_api_keys/").json()[0]["id"]
        cases = list(iterate_methods(api_routes(tenants.server)))
        exact = {
            scope: new_key(owner, label=scope[:40], scopes=[scope])
            for scope in {declared_scope(route, method) for route, method in cases}
        }
    values = {**tenants.path_values(), "key_id": key_id}
    for route, method in cases:
        scope = declared_scope(route, method)
        url, body = route_url(route, **values), HARMLESS_BODIES.get((route.path, method))
        with tenants.api(unrelated) as api:
            refused = api.request(method, url, json=body)
        assert refused.status_code == 403, (method, url, refused.text)
        assert refused.json() == {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": f"API key missing required scope '{scope}'",
            "attr": None,
        }
        with tenants.api(exact[scope]) as api:
            allowed = api.request(method, url, json=body)
        # 404 only for reading or revoking the owner's key, which is wider.
        assert allowed.status_code not in (401, 403), (method, url, allowed.text)


def test_write_implies_read(tenants: Tenants) -> None:
    with tenants.owner() as owner:
        writer = new_key(owner, scopes=["project:write"], scoped_teams=[tenants.b])
    with tenants.api(writer) as api:
        assert api.get(f"/api/projects/{tenants.b}/").status_code == 200
        renamed = api.patch(f"/api/projects/{tenants.b}/", json={"name": "B2"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "B2"
        denied = api.get(f"/api/projects/{tenants.b}/events/")
        assert denied.status_code == 403
        assert denied.json()["detail"] == "API key missing required scope 'event:read'"


def test_a_key_cannot_create_a_wider_key(tenants: Tenants) -> None:
    with tenants.owner() as owner:
        maker = new_key(
            owner,
            label="maker",
            scopes=["personal_api_key:write", "event:read"],
            scoped_teams=[tenants.a],
        )
    with tenants.api(maker) as api:
        for fields, attr, named in (
            ({"scopes": ["*"]}, "scopes", "*"),
            ({"scopes": ["event:read", "person:read"]}, "scopes", "person:read"),
            ({"scopes": ["event:write"]}, "scopes", "event:write"),
            ({"scopes": ["event:read"], "scoped_teams": [tenants.b]}, "scoped_teams", None),
            (
                {"scopes": ["event:read"], "scoped_teams": [tenants.a, tenants.b]},
                "scoped_teams",
                None,
            ),
        ):
            refused = create_key(api, **fields)
            assert refused.status_code == 403, (fields, refused.text)
            assert refused.json()["code"] == "permission_denied"
            assert refused.json()["attr"] == attr
            if named:
                assert refused.json()["detail"].endswith(f": {named}")
        # A project that does not exist is refused in the same words as B.
        b = create_key(api, scopes=["event:read"], scoped_teams=[tenants.b]).json()
        nowhere = create_key(api, scopes=["event:read"], scoped_teams=[9999]).json()
        assert nowhere == {**b, "detail": b["detail"].replace(str(tenants.b), "9999")}

        # No projects named: the projects of its maker, not every project.
        child = create_key(api, label="child", scopes=["event:read", "personal_api_key:read"])
        assert child.status_code == 201, child.text
        assert child.json()["scoped_teams"] == [tenants.a]
        listed = api.get("/api/personal_api_keys/")
    assert listed.status_code == 200  # write implies read
    # Only keys no wider than itself: not the owner's, nor B's, nor A's (every scope).
    assert sorted(k["label"] for k in listed.json()) == ["child", "maker"]
    with tenants.api(child.json()["value"]) as api:
        assert api.get(f"/api/projects/{tenants.b}/events/").status_code == 404
        assert api.get(f"/api/projects/{tenants.a}/events/").status_code == 200
        assert create_key(api, scopes=["event:read"]).status_code == 403


def test_a_key_cannot_revoke_a_wider_key(tenants: Tenants) -> None:
    with tenants.owner() as owner:
        keys = {k["label"]: k["id"] for k in owner.get("/api/personal_api_keys/").json()}
    with tenants.api(tenants.key_a) as a:
        assert (
            a.delete(f"/api/personal_api_keys/{keys['created at first start']}/").status_code == 404
        )
        assert a.delete(f"/api/personal_api_keys/{keys['b']}/").status_code == 404
        assert a.get(f"/api/personal_api_keys/{keys['b']}/").status_code == 404
    with tenants.owner() as owner:
        assert owner.get(f"/api/projects/{tenants.a}/").status_code == 200
    with tenants.api(tenants.key_b) as b:
        assert b.get(f"/api/projects/{tenants.b}/").status_code == 200
        # A key may revoke itself.
        assert b.delete(f"/api/personal_api_keys/{keys['b']}/").status_code == 204
        assert b.get(f"/api/projects/{tenants.b}/").status_code == 401


@pytest.fixture
def proxied_server(tmp_path: Path) -> Iterator[LiveServer]:
    with running_live_server(
        tmp_path / "data", trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)
    ) as live:
        yield live


def test_failed_authentication_is_rate_limited_per_address(proxied_server: LiveServer) -> None:
    url = f"{proxied_server.url}/api/projects/"

    def attempt(address: str, key: str | None = "phx_guess") -> httpx.Response:
        headers = {"X-Forwarded-For": address}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return httpx.get(url, headers=headers)

    for _ in range(20):
        assert attempt("203.0.113.7").status_code == 401
    limited = attempt("203.0.113.7")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert set(limited.json()) == {"type", "code", "detail", "attr"}
    assert limited.json()["code"] == "throttled"
    assert attempt("203.0.113.7", None).status_code == 429  # no key at all fails too
    # Successful requests from the same address are not limited...
    good = proxied_server.credentials.personal_api_key
    assert attempt("203.0.113.7", good).status_code == 200
    # ...and other addresses keep their own allowance.
    assert attempt("198.51.100.1").status_code == 401


def test_keys_from_before_scopes_keep_every_scope_on_every_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    steps = schema.migrations()
    with monkeypatch.context() as patched:
        # A data folder as Magpie made it before migration 0004.
        patched.setattr(schema, "migrations", lambda: [m for m in steps if m.version <= 3])
        old = Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
        old.db.cursor().execute(
            "INSERT INTO personal_api_keys VALUES (gen_random_uuid(), 'old', ?, 'phx_old…', now())",
            [hashlib.sha256(b"phx_old-key").hexdigest()],
        )
        # In SQL: today's project store reads columns that later migrations add.
        old.db.cursor().execute(
            "INSERT INTO projects (name, api_token, created_at)"
            " VALUES ('first', 'phc_first', now())"
        )
        old.close()
    with duckdb.connect(str(data / "magpie.duckdb")) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (3,)
    magpie = Magpie(Settings.load(env={}, data_dir=data, capture_process=False))
    try:
        later = magpie.create_project("created after the migration")
        key = magpie.api_keys.find("phx_old-key")
        assert key is not None and key.scopes == ("*",)
        assert key.reaches_every_project and key.reaches(later.id)
        assert key.allows("billing:write")
    finally:
        magpie.close()


def run_cli(*args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAGPIE_LOG_LEVEL": "warning"}
    if port is not None:
        env["MAGPIE_PORT"] = str(port)
    return subprocess.run(
        [sys.executable, "-m", "magpie.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def cli(*args: str, port: int | None = None) -> str:
    done = run_cli(*args, port=port)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_projects_and_keys_without_a_server(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    port = free_port()  # nothing listens there
    cli("init", "--data-dir", data, port=port)
    project = json.loads(cli("project", "create", "--data-dir", data, "--name", "Shop", port=port))
    assert project["id"] == 2 and project["api_token"].startswith("phc_")
    listed = cli("project", "list", "--data-dir", data, port=port)
    assert "Shop" in listed and project["api_token"] in listed
    scoped = ("--scope", "event:read", "--scope", "query:read", "--project", "2")
    key = json.loads(cli("key", "create", "--data-dir", data, "--label", "ci", *scoped, port=port))
    assert key["scopes"] == ["event:read", "query:read"] and key["scoped_teams"] == [2]
    keys = cli("key", "list", "--data-dir", data, port=port)
    assert key["id"] in keys and key["mask_value"] in keys and key["value"] not in keys
    wrong = run_cli(
        "key", "create", "--data-dir", data, "--label", "x", "--scope", "nope", port=port
    )
    assert wrong.returncode != 0 and "Invalid scope: nope" in wrong.stderr
    assert (
        cli("key", "revoke", "--data-dir", data, key["id"], port=port).strip().endswith(key["id"])
    )
    assert key["id"] not in cli("key", "list", "--data-dir", data, port=port)


def test_cli_projects_and_keys_through_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = spawn_server(data, port)  # holds the data folder; capture in its own process
    try:
        project = json.loads(
            cli("project", "create", "--data-dir", str(data), "--name", "Shop", port=port)
        )
        # Its token is accepted at once, by the capture process too.
        sent = httpx.post(
            f"{server.url}/batch/",
            json={"api_key": project["api_token"], "batch": [{"event": "e", "distinct_id": "u"}]},
        )
        assert sent.status_code == 200, sent.text
        scoped = ("--label", "shop", "--scope", "event:read", "--project", str(project["id"]))
        key = json.loads(cli("key", "create", "--data-dir", str(data), *scoped, port=port))
        assert "Shop" in cli("project", "list", "--data-dir", str(data), port=port)
        assert key["id"] in cli("key", "list", "--data-dir", str(data), port=port)
        headers = {"Authorization": f"Bearer {key['value']}"}
        with httpx.Client(base_url=server.url, headers=headers) as api:
            assert api.get(f"/api/projects/{project['id']}/events/").status_code == 200
            assert api.get("/api/projects/1/events/").status_code == 404
            cli("key", "revoke", "--data-dir", str(data), key["id"], port=port)
            assert api.get(f"/api/projects/{project['id']}/events/").status_code == 401
    finally:
        assert server.terminate() == 0


def test_a_new_key_used_by_many_requests_at_once(live_server: LiveServer) -> None:
    with live_server.api() as owner:
        key = new_key(owner, label="busy", scopes=["event:read"])
    url = f"{live_server.url}/api/projects/{live_server.project_id}/events/"
    headers = {"Authorization": f"Bearer {key}"}
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: httpx.get(url, headers=headers).status_code, range(32)))
    assert codes == [200] * 32
    with live_server.api() as owner:
        [busy] = [k for k in owner.get("/api/personal_api_keys/").json() if k["label"] == "busy"]
    assert busy["last_used_at"] is not None
