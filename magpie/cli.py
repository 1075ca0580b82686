"""``magpie``: initialise a data folder, serve it."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
import orjson
import uvicorn
from rich.table import Table

from magpie import access, accounts, running
from magpie.app import Magpie, server_config, tune_interpreter
from magpie.backends import ROLES, backend_urls
from magpie.billing.meter import Period
from magpie.billing.pricing import DEFAULT_PRICING
from magpie.billing.pricing import quote as compute_quote
from magpie.billing.render import console, print_quote, print_usage
from magpie.billing.service import BillingService
from magpie.credentials import Credentials, ensure_credentials, load_saved_credentials
from magpie.errors import MagpieError
from magpie.http.api.common import encode_json
from magpie.http.api.keys import public_key
from magpie.http.api.projects import public_project
from magpie.http.api.users import public_user
from magpie.settings import Settings, SettingsError

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings.load(**overrides)
        backend_urls(settings)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    return settings


def _credentials(magpie: Magpie) -> Credentials:
    return ensure_credentials(
        magpie.settings.credentials_path, magpie.projects, magpie.api_keys, magpie.settings.url
    )


def _through_server_or_folder(
    settings: Settings,
    remote: Callable[[httpx.Client], T],
    local: Callable[[Magpie], T],
) -> T:
    """``remote`` through the running server when there is one, else ``local`` on the
    data folder: one process at a time may open it, and a server holds it.

    The server announces itself in the data folder (magpie/running.py); it is
    asked with the key saved at first start (which has every scope and reaches
    every project).
    """
    saved = load_saved_credentials(settings.credentials_path)
    url = running.running_server(settings.data_dir)
    if saved is not None and url is not None:
        headers = {"Authorization": f"Bearer {saved[1]}"}
        try:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
                return remote(api)
        except httpx.ConnectError:
            pass  # it has just stopped (or not yet started listening): open the folder
    try:
        # The queue opened as the server opens it without a capture process:
        # a follower of a capture process that is not running would not know
        # where the queue ends.
        magpie = Magpie(settings.with_overrides(capture_process=False))
    except Exception as exc:  # most often: a server elsewhere holds the file
        raise click.ClickException(
            f"cannot open {settings.data_dir} ({exc}); is a server starting or stopping on it?"
        ) from None
    try:
        return local(magpie)
    except MagpieError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        magpie.close()


def _answer(response: httpx.Response) -> Any:
    """The server's JSON answer; its error detail as the command's error."""
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = None
        detail = detail or f"{response.status_code} {response.text}"
        if response.status_code == 401:
            detail = f"the server refused the key saved in credentials.json: {detail}"
        raise click.ClickException(detail)
    return response.json() if response.content else None


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _plain(value: Any) -> Any:
    """What the API would answer for ``value`` (times as ISO 8601 text)."""
    return orjson.loads(encode_json(value))


@click.group()
def main() -> None:
    """Magpie: product analytics, drop-in compatible with the PostHog SDKs."""


_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data folder (default: $MAGPIE_DATA_DIR or ./data).",
)


@main.command()
@_data_dir
def init(data_dir: Path | None) -> None:
    """Create the data folder and default project; print the credentials as JSON."""
    magpie = Magpie(_settings(data_dir=data_dir))
    try:
        click.echo(_credentials(magpie).to_json())
    finally:
        magpie.close()


_host = click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
_port = click.option("--port", type=int, default=None, help="Port (default 8000).")


@main.command()
@_data_dir
@_host
@_port
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve a data folder: capture, ingestion and the API in one process."""
    _serve(ROLES, data_dir, host, port)


def _role_command(role: str, what: str) -> None:
    @main.command(name=role, help=f"Cluster mode: run {what} only (needs MAGPIE_QUEUE_URL).")
    @_data_dir
    @_host
    @_port
    def command(data_dir: Path | None, host: str | None, port: int | None) -> None:
        _serve(frozenset({role}), data_dir, host, port)


# Each runs one role of `magpie serve`, so a deployment scales them apart
# (docs/deploying.md): N capture processes, M workers, K API processes.
ROLE_COMMANDS = {
    "capture": "capture (the SDK endpoints: capture and flags), publishing to the queue",
    "worker": "an ingest worker, consuming the partitions it holds the lease of",
    "loader": "the loader of processed events into ClickHouse",
    "api": "the API and the web UI",
}
for _role, _what in ROLE_COMMANDS.items():
    _role_command(_role, _what)


def _serve(
    roles: frozenset[str], data_dir: Path | None, host: str | None, port: int | None
) -> None:
    settings = _settings(data_dir=data_dir, host=host, port=port)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        magpie = Magpie(settings, roles=roles)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    if "api" in roles:  # the credentials to reach the API (made at first start)
        click.echo(_credentials(magpie).to_json())
        sys.stdout.flush()
    tune_interpreter(settings)
    # uvicorn re-raises the stop signal once it has shut down gracefully; a
    # no-op handler underneath lets the process exit 0 after a clean drain.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(server_config(magpie)).run()


@main.group()
def billing() -> None:
    """Usage, costs and quotes (anonymous vs identified events)."""


def _billing_report(
    data_dir: Path | None, period: str | None, project: int | None
) -> dict[str, Any]:
    settings = _settings(data_dir=data_dir)
    saved = load_saved_credentials(settings.credentials_path)

    def remote(api: httpx.Client) -> dict[str, Any]:
        project_id = project or (saved[0] if saved else 1)
        return dict(
            _answer(
                api.get(
                    f"/api/projects/{project_id}/billing/usage/",
                    params={"period": period} if period else None,
                )
            )
        )

    def local(magpie: Magpie) -> dict[str, Any]:
        projects = magpie.projects.all()
        if project is None and not projects:
            raise click.ClickException("this data folder has no project yet")
        chosen = Period.parse(period) if period else Period.containing(magpie.clock.now())
        return magpie.billing.report(project or projects[0].id, chosen)

    return _through_server_or_folder(settings, remote, local)


@billing.command()
@_data_dir
@click.option("--period", default=None, help="Month as YYYY-MM (default: this month).")
@click.option("--project", type=int, default=None, help="Project id (default: the first).")
def usage(data_dir: Path | None, period: str | None, project: int | None) -> None:
    """Billable events this month by class, SDK and day, with cost and projection."""
    print_usage(_billing_report(data_dir, period, project), console())


@billing.command()
@_data_dir
@click.option("--anonymous", type=click.IntRange(min=0), default=0)
@click.option("--identified", type=click.IntRange(min=0), default=0)
def quote(data_dir: Path | None, anonymous: int, identified: int) -> None:
    """What a month of this many events would cost, tier by tier (default price list)."""
    pricing = DEFAULT_PRICING
    settings = _settings(data_dir=data_dir)
    if settings.pricing_file:
        pricing = BillingService.read_pricing_file(settings.pricing_file)
    print_quote(compute_quote(pricing, anonymous, identified).to_json(), console())


@main.group()
def project() -> None:
    """Projects: each has its own token, events, persons and settings."""


@project.command("create")
@_data_dir
@click.option("--name", required=True, help="The project's name.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
def project_create(data_dir: Path | None, name: str, timezone: str) -> None:
    """Create a project; print it as JSON, with the api_token its SDKs send."""
    created = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.post("/api/projects/", json={"name": name, "timezone": timezone})),
        lambda magpie: _plain(public_project(magpie.create_project(name, timezone))),
    )
    click.echo(json.dumps(created))


@project.command("list")
@_data_dir
def project_list(data_dir: Path | None) -> None:
    """Every project, with its id and token."""
    found = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.get("/api/projects/"))["results"],
        lambda magpie: _plain([public_project(p) for p in magpie.projects.all()]),
    )
    table = Table("id", "name", "timezone", "created")
    table.add_column("api_token", no_wrap=True)
    for p in found:
        table.add_row(
            str(p["id"]), p["name"], p["timezone"], _minute(p["created_at"]), p["api_token"]
        )
    console().print(table)


@main.group()
def key() -> None:
    """Personal API keys: what each may do (scopes) and which projects it reaches."""


@key.command("create")
@_data_dir
@click.option("--label", required=True, help="What the key is for.")
@click.option(
    "--scope",
    "scope_list",
    multiple=True,
    help="A scope such as query:read or project:write; repeat for more (default: * for all).",
)
@click.option(
    "--project",
    "project_ids",
    type=int,
    multiple=True,
    help="A project id the key may reach; repeat for more (default: every project).",
)
def key_create(
    data_dir: Path | None, label: str, scope_list: tuple[str, ...], project_ids: tuple[int, ...]
) -> None:
    """Create a key; print it as JSON, its value included (shown only this once)."""
    wanted = list(scope_list) or ["*"]
    body = {"label": label, "scopes": wanted, "scoped_teams": list(project_ids)}

    def local(magpie: Magpie) -> Any:
        issued = access.issue_key(
            magpie.api_keys, magpie.projects, None, label, wanted, project_ids
        )
        return _plain(public_key(issued.key, issued.value))

    created = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.post("/api/personal_api_keys/", json=body)),
        local,
    )
    click.echo(json.dumps(created))


@key.command("list")
@_data_dir
def key_list(data_dir: Path | None) -> None:
    """Every key, without its value."""
    found = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.get("/api/personal_api_keys/")),
        lambda magpie: _plain([public_key(k) for k in access.visible_keys(magpie.api_keys, None)]),
    )
    table = Table("label", "scopes", "projects", "key", "created", "last used")
    table.add_column("id", no_wrap=True)  # whole: `magpie key revoke` takes it
    for k in found:
        table.add_row(
            k["label"],
            " ".join(k["scopes"]),
            " ".join(map(str, k["scoped_teams"])) or "all",
            k["mask_value"],
            _minute(k["created_at"]),
            _minute(k["last_used_at"]) if k["last_used_at"] else "never",
            k["id"],
        )
    console().print(table)


@key.command("revoke")
@_data_dir
@click.argument("key_id")
def key_revoke(data_dir: Path | None, key_id: str) -> None:
    """Revoke a key by id: it stops working at once."""
    _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.delete(f"/api/personal_api_keys/{key_id}/")),
        lambda magpie: access.revoke_key(magpie.api_keys, None, key_id),
    )
    click.echo(f"revoked {key_id}")


@main.group()
def user() -> None:
    """Web UI users: each logs in with an email and a password."""


@user.command("add")
@_data_dir
@click.option("--email", required=True, help="The user's email, used to log in.")
def user_add(data_dir: Path | None, email: str) -> None:
    """Add a user; the password is read from standard input (first line), never an argument,
    so it stays out of the shell's history and the process list."""
    if sys.stdin.isatty():
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    body = {"email": email, "password": password}
    created = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.post("/api/users/", json=body)),
        lambda magpie: _plain(public_user(accounts.add_user(magpie.stores.users, email, password))),
    )
    click.echo(json.dumps(created))


@user.command("list")
@_data_dir
def user_list(data_dir: Path | None) -> None:
    """Every user (never a password)."""
    found = _through_server_or_folder(
        _settings(data_dir=data_dir),
        lambda api: _answer(api.get("/api/users/"))["results"],
        lambda magpie: _plain([public_user(u) for u in magpie.stores.users.all()]),
    )
    table = Table("id", "email", "created")
    for u in found:
        table.add_row(str(u["id"]), u["email"], _minute(u["created_at"]))
    console().print(table)


if __name__ == "__main__":
    main()
