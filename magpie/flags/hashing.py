"""Bucketing: where a distinct id (or group key) falls in [0, 1] for a flag.

Bit-identical to PostHog (compat §6.2): the first 15 hex digits of
``sha1("{key}.{id}{salt}")`` divided by the float 0xFFFFFFFFFFFFFFF. The
division is by the float on purpose: exact integer division differs from what
the SDKs compute in the last bit for about 1.35% of ids, and a user sitting on
a rollout boundary would then get another answer locally than remotely.
"""

from __future__ import annotations

import hashlib

LONG_SCALE = float(0xFFFFFFFFFFFFFFF)


def bucket(flag_key: str, bucketing_value: str, salt: str = "", separator: str = ".") -> float:
    digest = hashlib.sha1(f"{flag_key}{separator}{bucketing_value}{salt}".encode()).digest()
    # The first 15 hex digits are the first 60 bits: the first 8 bytes less 4 bits.
    return (int.from_bytes(digest[:8], "big") >> 4) / LONG_SCALE


def variant_bucket(flag_key: str, bucketing_value: str) -> float:
    """Variants are picked with their own salt, so who is in the rollout and which
    variant they get are independent."""
    return bucket(flag_key, bucketing_value, "variant")


def holdout_bucket(bucketing_value: str) -> float:
    """Holdouts hash ``holdout-{id}``: a dash, no flag key, so a holdout takes the
    same people out of every flag it is attached to."""
    return bucket("holdout", bucketing_value, separator="-")
