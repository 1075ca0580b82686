"""Bucketing is bit-identical to PostHog's (compat §6.2)."""

from __future__ import annotations

import hashlib
import random

import pytest
from posthog.feature_flags import _hash as posthog_hash

from magpie.flags.hashing import bucket, holdout_bucket, variant_bucket


@pytest.mark.parametrize(
    ("key", "value", "salt", "expected"),
    [
        ("my-flag", "user-1", "", 0.16342791562465697),
        ("my-flag", "user-1", "variant", 0.03834367294165884),
    ],
)
def test_the_check_values_of_the_reference(
    key: str, value: str, salt: str, expected: float
) -> None:
    assert bucket(key, value, salt) == expected


def test_variant_bucket_is_the_variant_salt() -> None:
    assert variant_bucket("my-flag", "user-1") == 0.03834367294165884


def test_empty_identifier_still_hashes() -> None:
    assert 0.0 <= bucket("my-flag", "") <= 1.0


def test_the_same_as_posthog_python_for_many_ids() -> None:
    rng = random.Random(16)
    for n in range(5000):
        key = rng.choice(["beta", "new-checkout", "ß-flag", "x" * 40])
        value = rng.choice([f"user-{n}", str(rng.random()), "ünïcode-" + str(n), ""])
        assert bucket(key, value) == posthog_hash(key, value)
        assert variant_bucket(key, value) == posthog_hash(key, value, salt="variant")
        assert holdout_bucket(value) == posthog_hash("holdout", value, separator="-")


def test_float_division_not_exact_division() -> None:
    # 0xFFFFFFFFFFFFFFF as a float is 2**60: dividing by it differs in the last
    # bit from exact division for some ids. The SDKs divide by the float.
    differing = 0
    for n in range(2000):
        digest = hashlib.sha1(f"f.id-{n}".encode()).hexdigest()[:15]
        assert bucket("f", f"id-{n}") == int(digest, 16) / 2.0**60
        differing += int(digest, 16) / 0xFFFFFFFFFFFFFFF != bucket("f", f"id-{n}")
    assert differing > 0
