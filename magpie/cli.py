"""``magpie``: initialise a data folder, serve it."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
import uvicorn

from magpie.app import Magpie, server_config
from magpie.credentials import Credentials, ensure_credentials
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
    # uvicorn re-raises the stop signal once it has shut down gracefully; a
    # no-op handler underneath lets the process exit 0 after a clean drain.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(server_config(magpie)).run()


if __name__ == "__main__":
    main()
