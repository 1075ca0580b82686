"""Event properties that are materialised into real columns at ingestion.

Reading a property out of the JSON column costs 30–100× a real column, so the
hot ones get a column, and the query compiler reads the column whenever one
exists for the property asked for.
"""

from __future__ import annotations

MATERIALIZED_PROPERTIES: dict[str, str] = {
    "$current_url": "mat_current_url",
    "$pathname": "mat_pathname",
    "$host": "mat_host",
    "$browser": "mat_browser",
    "$os": "mat_os",
    "$device_type": "mat_device_type",
    "$referring_domain": "mat_referring_domain",
    "utm_source": "mat_utm_source",
    "utm_medium": "mat_utm_medium",
    "utm_campaign": "mat_utm_campaign",
    "$session_id": "mat_session_id",
    "$lib": "mat_lib",
    "$lib_version": "mat_lib_version",
}

GROUP_COLUMNS: tuple[str, ...] = tuple(f"group_{index}" for index in range(5))


def json_pointer(keys: list[str]) -> str:
    """RFC 6901 path of a property: any key is addressable, ``~`` and ``/`` included."""
    return "/" + "/".join(k.replace("~", "~0").replace("/", "~1") for k in keys)
