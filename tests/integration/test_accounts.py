"""Web UI accounts: the first sign-up, logging in and out, the session cookie, CSRF,
and the session authorising the REST API like a key with every scope."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.conftest import ROOT, LiveServer
from tests.integration.tenants import (
    HARMLESS_BODIES,
    api_routes,
    iterate_methods,
    route_url,
    two_tenants,
)

PASSWORD = "correct horse battery"


def browser(server: LiveServer) -> httpx.Client:
    # A browser sends Origin with its form posts.
    return httpx.Client(base_url=server.url, timeout=10, headers={"Origin": server.url})


def sign_up(server: LiveServer, email: str = "ada@example.com") -> httpx.Client:
    client = browser(server)
    answer = client.post("/signup", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(client: httpx.Client, project_id: int) -> str:
    page = client.get(f"/project/{project_id}/events")
    marker = 'name="magpie-csrf" content="'
    assert marker in page.text, page.text
    return page.text.split(marker, 1)[1].split('"', 1)[0]


def test_first_visit_signs_up_then_everyone_logs_in(live_server: LiveServer) -> None:
    with browser(live_server) as anonymous:
        for path in ("/", f"/project/{live_server.project_id}/events", "/login"):
            answer = anonymous.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, "/signup"), path
        signup_page = anonymous.get("/signup")
        assert signup_page.status_code == 200 and 'for="email"' in signup_page.text
        short = anonymous.post("/signup", data={"email": "ada@example.com", "password": "short"})
        assert short.status_code == 400 and "at least 8" in short.text
        assert (
            "short" not in short.text.split("<form", 1)[1].split("</form>")[0].split("value=")[-1]
        )

    client = sign_up(live_server)
    landing = client.get("/")
    assert landing.headers["location"] == f"/project/{live_server.project_id}"
    cookie = next(c for c in client.cookies.jar if c.name == "magpie_session")
    assert cookie.has_nonstandard_attr("HttpOnly")

    with browser(live_server) as other:
        assert other.get("/signup").headers["location"] == "/login"
        again = other.post("/signup", data={"email": "eve@example.com", "password": PASSWORD})
        assert again.status_code == 303 and again.headers["location"] == "/login"
        wanted = other.get(f"/project/{live_server.project_id}/sql?x=1")
        assert (
            wanted.headers["location"]
            == f"/login?next=/project/{live_server.project_id}/sql%3Fx%3D1"
        )
        wrong = other.post("/login", data={"email": "ada@example.com", "password": "nope"})
        assert wrong.status_code == 401 and "wrong email or password" in wrong.text
        unknown = other.post("/login", data={"email": "zed@example.com", "password": PASSWORD})
        assert unknown.status_code == 401 and "wrong email or password" in unknown.text
        good = other.post(
            "/login?next=/project/1/sql", data={"email": "ADA@example.com", "password": PASSWORD}
        )
        assert good.status_code == 303 and good.headers["location"] == "/project/1/sql"
        assert "samesite=lax" in good.headers["set-cookie"].lower()
        assert "httponly" in good.headers["set-cookie"].lower()
        offsite = other.post(
            "/login?next=//evil.example/x", data={"email": "ada@example.com", "password": PASSWORD}
        )
        assert offsite.headers["location"] == "/"


def test_a_form_from_another_site_is_refused(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"Origin": "https://evil.example"}) as c:
        answer = c.post("/signup", data={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 403
    with browser(live_server) as client:
        assert client.get("/signup").status_code == 200  # still nobody signed up


def test_the_session_authorises_the_api_and_csrf_guards_writes(live_server: LiveServer) -> None:
    client = sign_up(live_server)
    project = live_server.project_id
    token = csrf_of(client, project)
    assert client.get(f"/api/projects/{project}/events/").status_code == 200
    assert client.get("/api/personal_api_keys/").status_code == 200

    body = {"query": {"kind": "HogQLQuery", "query": "SELECT 1"}, "name": "one"}
    refused = client.post(f"/api/projects/{project}/insights/", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert "CSRF" in refused.json()["detail"]
    forged = client.post(
        f"/api/projects/{project}/insights/", json=body, headers={"X-CSRFToken": "0" * 64}
    )
    assert forged.status_code == 403
    saved = client.post(
        f"/api/projects/{project}/insights/", json=body, headers={"X-CSRFToken": token}
    )
    assert saved.status_code == 201, saved.text
    assert len(saved.json()["short_id"]) == 8

    # Users added by a logged-in user; no password or hash ever comes back.
    added = client.post(
        "/api/users/",
        json={"email": "bob@example.com", "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert added.status_code == 201 and set(added.json()) == {"id", "email", "created_at"}
    listed = client.get("/api/users/").json()["results"]
    assert [u["email"] for u in listed] == ["ada@example.com", "bob@example.com"]
    assert PASSWORD not in str(listed) and "argon2" not in str(listed)
    with browser(live_server) as bob:
        login = bob.post("/login", data={"email": "bob@example.com", "password": PASSWORD})
        assert login.status_code == 303


def test_logging_out_ends_the_session_on_the_server(live_server: LiveServer) -> None:
    client = sign_up(live_server)
    token = csrf_of(client, live_server.project_id)
    stolen = dict(client.cookies)
    assert client.get("/logout").status_code == 200
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    with httpx.Client(base_url=live_server.url, cookies=stolen) as replay:
        answer = replay.get(f"/api/projects/{live_server.project_id}/events/")
        assert answer.status_code == 401
        assert replay.get(f"/project/{live_server.project_id}/events").status_code == 303
    with httpx.Client(base_url=live_server.url, cookies={"magpie_session": "x.y"}) as forged:
        assert forged.get(f"/api/projects/{live_server.project_id}/events/").status_code == 401


def test_user_add_from_the_command_line(live_server: LiveServer) -> None:
    env_port = live_server.url.rsplit(":", 1)[1]
    data_dir = live_server.magpie.settings.data_dir

    def add(email: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "magpie.cli",
                "user",
                "add",
                "--data-dir",
                str(data_dir),
                "--email",
                email,
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"MAGPIE_PORT": env_port, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )

    done = add("cli@example.com", PASSWORD)
    assert done.returncode == 0, done.stderr
    assert '"email": "cli@example.com"' in done.stdout and PASSWORD not in done.stdout
    assert add("cli@example.com", PASSWORD).returncode != 0  # taken
    with browser(live_server) as client:
        # The first user came from the command line: signing up is over.
        assert client.get("/signup").headers["location"] == "/login"
        login = client.post("/login", data={"email": "cli@example.com", "password": PASSWORD})
        assert login.status_code == 303


def test_every_api_route_takes_the_session_and_every_write_needs_the_csrf_token(
    live_server: LiveServer,
) -> None:
    """Enumerated from the app: a new route is covered without anyone remembering to."""
    client = sign_up(live_server)
    token = csrf_of(client, live_server.project_id)
    tenants = two_tenants(live_server)
    key_id = client.get("/api/personal_api_keys/").json()[0]["id"]
    values = {**tenants.path_values(), "key_id": key_id}
    cases = list(iterate_methods(api_routes(live_server)))
    for route, method in cases:
        if method == "GET":
            # The session passes the checks a key with every scope on every project passes.
            answer = client.get(route_url(route, **values))
            assert answer.status_code == 200, (route.path, answer.text)
    writes = 0
    for route, method in cases:
        if method == "GET":
            continue
        url = route_url(route, **values)
        body = HARMLESS_BODIES.get((route.path, method))
        refused = client.request(method, url, json=body)
        assert refused.status_code == 403, (method, url, refused.text)
        assert refused.json()["attr"] == "csrf_token"
        allowed = client.request(method, url, json=body, headers={"X-CSRFToken": token})
        assert allowed.status_code not in (401, 403), (method, url, allowed.text)
        writes += 1
    assert writes >= 10
