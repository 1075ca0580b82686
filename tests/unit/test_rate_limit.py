"""The capture rate limit: a token bucket of events per project, off unless set."""

from __future__ import annotations

import pytest

from magpie.capture.ratelimit import RateLimit, TokenBuckets
from magpie.errors import RateLimited
from magpie.settings import Settings, SettingsError


class FakeClock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


def buckets(rate: float, burst: int) -> tuple[TokenBuckets, FakeClock]:
    clock = FakeClock()
    return TokenBuckets(RateLimit(rate, burst), clock), clock


def test_a_full_bucket_takes_a_burst_then_refuses_with_the_wait() -> None:
    limiter, clock = buckets(rate=10, burst=50)
    limiter.take(1, 30)
    limiter.take(1, 20)
    with pytest.raises(RateLimited) as refused:
        limiter.take(1, 25)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.retry_after == 3  # 25 tokens at 10 a second
    clock.at += 2.4
    with pytest.raises(RateLimited):
        limiter.take(1, 25)  # 24 tokens so far
    clock.at += 0.1
    limiter.take(1, 25)


def test_a_refused_request_takes_nothing() -> None:
    limiter, clock = buckets(rate=1, burst=5)
    limiter.take(1, 5)
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.take(1, 1)
    clock.at += 1
    limiter.take(1, 1)


def test_a_batch_larger_than_the_bucket_passes_when_it_is_full_and_leaves_a_debt() -> None:
    limiter, clock = buckets(rate=10, burst=20)
    limiter.take(1, 100)  # could never pass otherwise
    with pytest.raises(RateLimited) as refused:
        limiter.take(1, 1)
    assert refused.value.retry_after == 9  # 80 tokens owed, then one more
    clock.at += 8.1
    limiter.take(1, 1)


def test_projects_have_buckets_of_their_own() -> None:
    limiter, _ = buckets(rate=1, burst=3)
    limiter.take(1, 3)
    limiter.take(2, 3)
    with pytest.raises(RateLimited):
        limiter.take(1, 1)


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    limiter, clock = buckets(rate=100, burst=10)
    clock.at += 3600
    limiter.take(1, 10)
    with pytest.raises(RateLimited):
        limiter.take(1, 1)


def settings(**env: str) -> Settings:
    return Settings.load(env={f"MAGPIE_CAPTURE_RATE_LIMIT_{k.upper()}": v for k, v in env.items()})


def test_it_is_off_by_default() -> None:
    assert RateLimit.from_settings(Settings.load(env={})) is None


def test_the_burst_defaults_to_ten_seconds_of_the_rate() -> None:
    assert RateLimit.from_settings(settings(events_per_second="2.5")) == RateLimit(2.5, 25)
    assert RateLimit.from_settings(
        settings(events_per_second="100", burst_events="7")
    ) == RateLimit(100, 7)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"events_per_second": "0"}, "MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"),
        ({"events_per_second": "-3"}, "MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"),
        ({"events_per_second": "nan"}, "MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"),
        ({"events_per_second": "inf"}, "MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"),
        ({"events_per_second": "5", "burst_events": "0"}, "MAGPIE_CAPTURE_RATE_LIMIT_BURST_EVENTS"),
        ({"burst_events": "5"}, "MAGPIE_CAPTURE_RATE_LIMIT_BURST_EVENTS"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        RateLimit.from_settings(settings(**env))


def test_a_value_that_is_not_a_number_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="MAGPIE_CAPTURE_RATE_LIMIT_EVENTS_PER_SECOND"):
        settings(events_per_second="fast")
