"""A remote-config flag's payload, as ``/api/projects/{id}/feature_flags/{key}/remote_config``
answers it to posthog-python's ``get_remote_config_payload``.

In PostHog a remote-config flag is a boolean flag rolled out to everyone, and
its configuration is the payload of its ``"true"`` value. No person is
evaluated: every caller reads the same configuration.
"""

from __future__ import annotations

from typing import Any

import orjson

from magpie.store.model import FeatureFlag

# The payload a remote config is: the one of the flag's "true" value.
REMOTE_CONFIG_VALUE = "true"


def remote_config_payload(flag: FeatureFlag) -> Any:
    """The configuration ``flag`` serves, as a JSON value; None for a flag that
    serves none (no ``"true"`` payload, or switched off)."""
    if not flag.active:
        # Switching the flag off withdraws its configuration, as /flags would
        # give no payload for a flag that is off.
        return None
    stored = (flag.filters.get("payloads") or {}).get(REMOTE_CONFIG_VALUE)
    if not isinstance(stored, str):
        return stored  # None, or a value kept as JSON already
    try:
        return orjson.loads(stored)
    except orjson.JSONDecodeError:
        # Saved before payloads were checked (or written around the API): the
        # text itself is the configuration; the SDK gets it as a JSON string.
        return stored
