"""Settings convert by their field types, from the environment and from TOML alike."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from magpie.settings import Settings, SettingsError, _converter, parse_size


def test_every_setting_converts_from_toml_and_env(tmp_path: Path) -> None:
    config = tmp_path / "magpie.toml"
    config.write_text(
        'pricing_file = "prices.json"\nport = 9000\ncapture_process = false\n'
        'trusted_proxies = ["10.0.0.0/8"]\nquery_timeout_seconds = 5\n'
    )
    settings = Settings.load(
        env={"MAGPIE_CONFIG": str(config), "MAGPIE_DUCKDB_THREADS": "3", "MAGPIE_PORT": "9100"}
    )
    assert settings.pricing_file == Path("prices.json")
    assert settings.port == 9100  # the environment wins over the file
    assert settings.capture_process is False and settings.duckdb_threads == 3
    assert settings.query_timeout_seconds == 5.0
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8"]
    # Every field has a converter, so a new setting cannot be left without one.
    for spec in fields(Settings):
        assert callable(_converter(spec.name))
    assert Settings.load(env={"MAGPIE_DATA_DIR": "x"}).data_dir == Path("x")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"MAGPIE_PORT": "eighty"}, "MAGPIE_PORT"),
        ({"MAGPIE_CAPTURE_PROCESS": "maybe"}, "MAGPIE_CAPTURE_PROCESS"),
        ({"MAGPIE_QUERY_MEMORY_MARGIN": "lots"}, "MAGPIE_QUERY_MEMORY_MARGIN"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load(env=env)
    assert names in str(raised.value)


def test_sizes_read_as_duckdb_writes_them() -> None:
    assert parse_size("1GB") == 10**9 and parse_size("512MiB") == 512 * 2**20
    assert parse_size("100") == 100
    with pytest.raises(ValueError):
        parse_size("a lot")
