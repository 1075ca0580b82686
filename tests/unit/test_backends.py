"""Backend URLs: each scheme's factory, the supported pairs, and the messages for the rest."""

from __future__ import annotations

import pytest

from magpie.backends import BackendSettingsError, ClickHouseTarget, backend_urls
from magpie.settings import Settings

PG = "postgresql://magpie@db.internal:5432/magpie"


def urls(**values: str) -> object:
    return backend_urls(Settings.load(env={}, **values))


def test_unset_is_embedded() -> None:
    found = backend_urls(Settings.load(env={}))
    assert found.mode == "embedded" and found.events is None and found.database is None


def test_settings_come_from_the_environment() -> None:
    settings = Settings.load(
        env={"MAGPIE_EVENTS_URL": "chdb:///var/lib/magpie/ch", "MAGPIE_DATABASE_URL": PG}
    )
    found = backend_urls(settings)
    assert found.mode == "cluster"
    assert found.events == ClickHouseTarget("chdb:///var/lib/magpie/ch", "magpie", True)
    assert found.database == PG


@pytest.mark.parametrize(
    ("url", "target"),
    [
        (
            "clickhouse://magpie:secret@ch.internal:8123/analytics",
            ClickHouseTarget("clickhouse://magpie:secret@ch.internal:8123", "analytics", False),
        ),
        (
            "clickhouses://magpie:secret@ch.internal:8443/analytics",
            ClickHouseTarget(
                "clickhouse://magpie:secret@ch.internal:8443?secure=true", "analytics", False
            ),
        ),
        (
            "chdb:///tmp/ch?database=t_1",
            ClickHouseTarget("chdb:///tmp/ch", "t_1", True),
        ),
    ],
)
def test_event_store_schemes(url: str, target: ClickHouseTarget) -> None:
    found = urls(events_url=url, database_url=PG)
    assert found.events == target  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"events_url": "mysql://h/db", "database_url": PG}, ["MAGPIE_EVENTS_URL", "chdb://"]),
        ({"events_url": "chdb://relative/path", "database_url": PG}, ["three slashes"]),
        ({"events_url": "chdb:///tmp/ch", "database_url": "sqlite:///x"}, ["postgresql://"]),
        ({"events_url": "chdb:///tmp/ch", "database_url": "postgresql://h:5432/"}, ["DATABASE"]),
        ({"events_url": "chdb:///tmp/ch"}, ["set MAGPIE_DATABASE_URL too"]),
        ({"database_url": PG}, ["set MAGPIE_EVENTS_URL too"]),
        ({"queue_url": "kafka://h:9092/x"}, ["MAGPIE_QUEUE_URL", "unknown scheme"]),
    ],
)
def test_bad_urls_and_pairs_name_the_setting(values: dict[str, str], words: list[str]) -> None:
    with pytest.raises(BackendSettingsError) as raised:
        urls(**values)
    for word in words:
        assert word in str(raised.value)


def test_a_password_never_reaches_the_message() -> None:
    with pytest.raises(BackendSettingsError) as raised:
        urls(events_url="clickhouse://u:hunter2@/db", database_url=PG)
    assert "hunter2" not in str(raised.value) and "***" in str(raised.value)
