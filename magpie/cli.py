"""``magpie``: initialise a data folder, serve it."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn

from magpie.app import Magpie, server_config, tune_interpreter
from magpie.billing.meter import Period
from magpie.billing.pricing import DEFAULT_PRICING
from magpie.billing.pricing import quote as compute_quote
from magpie.billing.render import console, print_quote, print_usage
from magpie.billing.service import BillingService
from magpie.credentials import Credentials, ensure_credentials, load_saved_credentials
from magpie.errors import MagpieError
from magpie.settings import Settings, SettingsError


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _credentials(magpie: Magpie) -> Credentials:
    return ensure_credentials(
        magpie.settings.credentials_path, magpie.projects, magpie.api_keys, magpie.settings.url
    )


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


@main.command()
@_data_dir
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
def serve(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve a data folder: capture, ingestion and the API in one process."""
    settings = _settings(data_dir=data_dir, host=host, port=port)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    magpie = Magpie(settings)
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
    """From the running server when there is one (it holds the data folder), else locally."""
    settings = _settings(data_dir=data_dir)
    saved = load_saved_credentials(settings.credentials_path)
    if saved is not None:
        project_id = project or saved[0]
        try:
            response = httpx.get(
                f"{settings.url}/api/projects/{project_id}/billing/usage/",
                params={"period": period} if period else None,
                headers={"Authorization": f"Bearer {saved[1]}"},
                timeout=30,
            )
        except httpx.TransportError:
            response = None
        if response is not None:
            if response.status_code != 200:
                raise click.ClickException(response.json().get("detail", response.text))
            return dict(response.json())
    magpie = Magpie(settings)
    try:
        projects = magpie.projects.all()
        if project is None and not projects:
            raise click.ClickException("this data folder has no project yet")
        project_id = project or projects[0].id
        chosen = Period.parse(period) if period else Period.containing(magpie.clock.now())
        return magpie.billing.report(project_id, chosen)
    except MagpieError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        magpie.close()


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


if __name__ == "__main__":
    main()
