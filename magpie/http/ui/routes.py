"""The web UI's routes: sign up, log in, log out (HTML forms), and the app shell.

Every app page (``/``, ``/project/...``) answers with the built ``index.html``
for a logged-in browser, and otherwise redirects: to ``/signup`` while this
Magpie has no user, else to ``/login``. The shell carries the session's CSRF
token in a meta tag; the app sends it back on every state-changing API call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from magpie import accounts
from magpie.accounts import LoggedIn, SessionAuthority
from magpie.errors import MagpieError
from magpie.http.api.common import SESSION_COOKIE
from magpie.http.requests import Network, client_ip, read_body
from magpie.http.throttle import FailureLimiter
from magpie.http.ui import templates
from magpie.store.base import ProjectStore, UserStore

log = logging.getLogger(__name__)

DIST = Path(__file__).resolve().parent / "dist"
MAX_FORM = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class UiContext:
    users: UserStore
    projects: ProjectStore
    sessions: SessionAuthority
    trusted_proxies: tuple[Network, ...] = ()
    failures: FailureLimiter | None = None
    dist: Path = DIST
    # Makes the project a new user lands in when there is none yet.
    first_project: Callable[[], int] | None = None

    def logged_in(self, request: Request) -> LoggedIn | None:
        return self.sessions.find(request.cookies.get(SESSION_COOKIE))


def _local_path(raw: str | None) -> str:
    """Where to go after logging in: a path on this server only (no open redirect)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    parts = urlsplit(raw)
    return parts.path + (f"?{parts.query}" if parts.query else "") if not parts.netloc else "/"


def _same_origin(request: Request) -> bool:
    """A form posted from another site (login CSRF) carries that site's Origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or one that sends no Origin on same-origin posts
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


async def _form(request: Request) -> dict[str, str]:
    raw = await read_body(request, MAX_FORM)
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=_NO_STORE)


def ui_routes(ui: UiContext) -> list[BaseRoute]:
    def set_session(response: Response, request: Request, cookie: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    def throttled(request: Request) -> int | None:
        if ui.failures is None:
            return None
        return ui.failures.waiting(client_ip(request, ui.trusted_proxies) or "unknown")

    def count_failure(request: Request) -> None:
        if ui.failures is not None:
            ui.failures.failed(client_ip(request, ui.trusted_proxies) or "unknown")

    def landing() -> str:
        projects = ui.projects.all()
        if projects:
            return f"/project/{projects[0].id}"
        if ui.first_project is not None:
            return f"/project/{ui.first_project()}"
        return "/"

    async def signup(request: Request) -> Response:
        if await run_in_threadpool(ui.users.count) > 0:
            return RedirectResponse("/login", 303)
        if request.method == "GET":
            return _html(templates.signup_page())
        if not _same_origin(request):
            return _html(templates.signup_page(error="This form came from another site."), 403)
        form = await _form(request)
        email, password = form.get("email", ""), form.get("password", "")
        try:
            user = await run_in_threadpool(accounts.sign_up, ui.users, email, password)
        except MagpieError as exc:
            return _html(templates.signup_page(email, exc.message), exc.status)
        _, cookie = await run_in_threadpool(ui.sessions.start, user)
        log.info("first user signed up: user %s", user.id)
        response = RedirectResponse(await run_in_threadpool(landing), 303)
        set_session(response, request, cookie)
        return response

    async def login(request: Request) -> Response:
        if await run_in_threadpool(ui.users.count) == 0:
            return RedirectResponse("/signup", 303)
        next_path = _local_path(request.query_params.get("next"))
        if request.method == "GET":
            if await run_in_threadpool(ui.logged_in, request) is not None:
                return RedirectResponse(next_path, 303)
            return _html(templates.login_page(next_path))
        if not _same_origin(request):
            return _html(
                templates.login_page(next_path, error="This form came from another site."), 403
            )
        wait = throttled(request)
        if wait is not None:
            message = f"Too many failed attempts: try again in {wait} seconds."
            return _html(templates.login_page(next_path, error=message), 429)
        form = await _form(request)
        email, password = form.get("email", ""), form.get("password", "")
        try:
            user = await run_in_threadpool(accounts.check_password, ui.users, email, password)
        except MagpieError as exc:
            count_failure(request)
            return _html(templates.login_page(next_path, email, exc.message), exc.status)
        _, cookie = await run_in_threadpool(ui.sessions.start, user)
        response = RedirectResponse(next_path, 303)
        set_session(response, request, cookie)
        return response

    async def logout(request: Request) -> Response:
        logged_in = await run_in_threadpool(ui.logged_in, request)
        if logged_in is None:
            return RedirectResponse("/login", 303)
        if request.method == "GET":
            return _html(templates.logout_page(ui.sessions.csrf_token(logged_in)))
        form = await _form(request)
        if not ui.sessions.csrf_ok(logged_in, form.get("csrf_token")):
            return _html(templates.logout_page(ui.sessions.csrf_token(logged_in)), 403)
        await run_in_threadpool(ui.sessions.end, logged_in)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def shell(request: Request) -> Response:
        """The app for a logged-in browser; the way in for anyone else."""
        if await run_in_threadpool(ui.users.count) == 0:
            return RedirectResponse("/signup", 303)
        logged_in = await run_in_threadpool(ui.logged_in, request)
        if logged_in is None:
            wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            target = "/login" if wanted == "/" else f"/login?next={quote(wanted, safe='/')}"
            return RedirectResponse(target, 303)
        if request.url.path == "/":
            return RedirectResponse(await run_in_threadpool(landing), 303)
        meta = (
            f'<meta name="magpie-csrf" content="{escape(ui.sessions.csrf_token(logged_in))}">'
            f'<meta name="magpie-user" content="{escape(logged_in.user.email)}">'
        )
        index = ui.dist / "index.html"
        if not index.is_file():
            return _html(templates.not_built_page().replace("</head>", meta + "</head>", 1), 503)
        return _html(index.read_text().replace("</head>", meta + "</head>", 1))

    async def favicon(request: Request) -> Response:
        icon = ui.dist / "favicon.svg"
        if not icon.is_file():
            return Response(status_code=204)
        return FileResponse(
            icon, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
        )

    return [
        Route("/signup", signup, methods=["GET", "POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["GET", "POST"]),
        Route("/", shell, methods=["GET"]),
        Route("/project/{rest:path}", shell, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/favicon.svg", favicon, methods=["GET"]),
        Mount("/static", StaticFiles(directory=ui.dist, check_dir=False), name="static"),
    ]
