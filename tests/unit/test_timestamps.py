from datetime import UTC, datetime, timedelta

import pytest

from magpie.capture.timestamps import parse_timestamp, resolve_timestamp, sent_at_from_millis

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T10:00:00Z", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00.123456Z", datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-06-01T10:00:00.123456789Z", datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-06-01T12:00:00+02", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T12:00:00+02:00", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01 10:00:00", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026/06/01", datetime(2026, 6, 1, tzinfo=UTC)),
        ("Mon, 01 Jun 2026 10:00:00 +0000", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("1780308000", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("1780308000000", datetime(2026, 6, 1, 10, tzinfo=UTC)),
    ],
)
def test_parses_the_formats_sdks_send(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed is not None and parsed.astimezone(UTC) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-45T99:00:00Z", "12:00"])
def test_unparseable_is_none(text: str) -> None:
    assert parse_timestamp(text) is None


def resolve(**kwargs: object) -> datetime:
    base: dict[str, object] = {
        "now": NOW,
        "timestamp": None,
        "offset_ms": None,
        "sent_at": None,
        "ignore_sent_at": False,
    }
    return resolve_timestamp(**{**base, **kwargs})  # type: ignore[arg-type]


def test_no_timestamp_means_now() -> None:
    assert resolve() == NOW


def test_timestamp_without_sent_at_is_kept() -> None:
    assert resolve(timestamp="2026-06-01T11:00:00Z") == NOW - timedelta(hours=1)


def test_skew_is_corrected_with_sent_at() -> None:
    # The client's clock runs 10 minutes fast: sent_at and timestamp are both ahead.
    sent_at = NOW + timedelta(minutes=10)
    assert resolve(timestamp="2026-06-01T12:05:00Z", sent_at=sent_at) == NOW - timedelta(minutes=5)


def test_ignore_sent_at_skips_the_correction() -> None:
    sent_at = NOW + timedelta(minutes=10)
    at = resolve(timestamp="2026-06-01T12:05:00Z", sent_at=sent_at, ignore_sent_at=True)
    assert at == NOW + timedelta(minutes=5)


def test_offset_overrides_everything() -> None:
    at = resolve(timestamp="2020-01-01T00:00:00Z", offset_ms=1500, sent_at=NOW)
    assert at == NOW - timedelta(milliseconds=1500)


def test_far_future_is_clamped_to_now() -> None:
    assert resolve(timestamp="2026-06-02T12:00:00Z") == NOW
    assert resolve(timestamp="2026-06-02T10:00:00Z") == NOW + timedelta(hours=22)


def test_unparseable_timestamp_falls_back_to_now() -> None:
    assert resolve(timestamp="not a date") == NOW


def test_huge_offset_does_not_crash() -> None:
    assert resolve(offset_ms=10**18).year == 1970


def test_sent_at_in_milliseconds() -> None:
    assert sent_at_from_millis("1780308000000") == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert sent_at_from_millis("1780308000") is None  # seconds: year 1970, ignored
    assert sent_at_from_millis("abc") is None
    assert sent_at_from_millis(None) is None
