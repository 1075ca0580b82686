"""Billing: the usage meter (anonymous vs identified events), pricing tiers and quotas."""

# Stored and queryable, but never billed (PostHog's exclusions).
EXCLUDED_EVENTS: tuple[str, ...] = (
    "$feature_flag_called",
    "survey sent",
    "survey shown",
    "survey dismissed",
    "$exception",
)
