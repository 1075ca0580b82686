"""What ``/flags`` and ``/decide`` answer, in each response version the SDKs speak.

posthog-js asks ``/flags/?v=2``, posthog-python ``/flags/?v=4``, old clients
``/decide/``. Every version is rendered from the same evaluated flags, through
a registry of renderers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class FlagResult:
    """One flag's answer (not frozen: 50 are made for every request, and a frozen
    dataclass is slower to make; nothing changes one once made)."""

    key: str
    enabled: bool
    variant: str | None = None
    payload: Any = None
    reason_code: str = "condition_match"
    reason_description: str = ""
    condition_index: int | None = None
    flag_id: int | None = None
    version: int | None = None
    # Its entry in the detailed responses, made once: evaluation hands out the
    # same result to every request that gets the same answer.
    _detail: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def value(self) -> bool | str:
        return self.variant if self.enabled and self.variant else self.enabled

    def detail(self) -> dict[str, Any]:
        """The flag's entry in ``flags`` of the v2+ responses (not to be changed)."""
        if self._detail is None:
            self._detail = {
                "key": self.key,
                "enabled": self.enabled,
                "variant": self.variant,
                "reason": {
                    "code": self.reason_code,
                    "condition_index": self.condition_index,
                    "description": self.reason_description,
                },
                "metadata": {
                    "id": self.flag_id,
                    "version": self.version,
                    "description": None,
                    "payload": self.payload,
                    "has_experiment": False,
                },
            }
        return self._detail


@dataclass(frozen=True)
class FlagsContext:
    request_id: str
    evaluated_at_ms: int
    errors: bool = False


def remote_config(token: str, *, has_feature_flags: bool) -> dict[str, Any]:
    """The project's client configuration: what posthog-js may switch on.

    Magpie does not serve session recording, surveys' lazy bundles, heatmaps or
    web vitals yet, so they are off and the SDK never asks for their scripts.

    ``surveys`` is left out rather than ``False``: posthog-js (1.449.2) loads
    ``{api_host}/static/<version>/surveys.js`` whenever the key is present, even
    when it is ``False`` or ``[]``, and only skips the bundle when it is absent.
    """
    return {
        "token": token,
        "supportedCompression": ["gzip", "gzip-js"],
        "hasFeatureFlags": has_feature_flags,
        "captureDeadClicks": False,
        "capturePerformance": False,
        "autocapture_opt_out": False,
        "autocaptureExceptions": False,
        "analytics": {"endpoint": "/i/v0/e/"},
        "elementsChainAsString": True,
        "errorTracking": {"autocaptureExceptions": False, "suppressionRules": []},
        "sessionRecording": False,
        "heatmaps": False,
        "productTours": False,
        "conversations": False,
        "logs": {"captureConsoleLogs": False},
        "defaultIdentifiedOnly": True,
        "siteApps": [],
    }


def _detailed(flags: list[FlagResult], context: FlagsContext) -> dict[str, Any]:
    return {
        "errorsWhileComputingFlags": context.errors,
        "flags": {f.key: f.detail() for f in flags},
        "requestId": context.request_id,
        "evaluatedAt": context.evaluated_at_ms,
    }


def _values(flags: list[FlagResult], context: FlagsContext) -> dict[str, Any]:
    return {
        "errorsWhileComputingFlags": context.errors,
        "featureFlags": {f.key: f.value for f in flags},
        "featureFlagPayloads": {f.key: f.payload for f in flags if f.payload is not None},
        "requestId": context.request_id,
        "evaluatedAt": context.evaluated_at_ms,
    }


def _enabled_list(flags: list[FlagResult], context: FlagsContext) -> dict[str, Any]:
    return {**_values(flags, context), "featureFlags": [f.key for f in flags if f.enabled]}


def _enabled_map(flags: list[FlagResult], context: FlagsContext) -> dict[str, Any]:
    body = _values(flags, context)
    body["featureFlags"] = {f.key: f.value for f in flags if f.enabled}
    return body


Renderer = Callable[[list[FlagResult], FlagsContext], dict[str, Any]]

# (endpoint, version) → renderer; version None means the parameter was absent.
RENDERERS: dict[tuple[str, int | None], Renderer] = {
    ("flags", None): _values,
    ("flags", 1): _values,
    ("flags", 2): _detailed,
    ("flags", 3): _detailed,
    ("flags", 4): _detailed,
    ("decide", None): _enabled_list,
    ("decide", 1): _enabled_list,
    ("decide", 2): _enabled_map,
    ("decide", 3): _values,
    ("decide", 4): _detailed,
}


def render(
    endpoint: str, version: int | None, flags: list[FlagResult], context: FlagsContext
) -> dict[str, Any]:
    known = [v for (e, v) in RENDERERS if e == endpoint and v is not None]
    if version is not None and version not in known:
        version = max(known) if version > max(known) else None
    return RENDERERS[(endpoint, version)](flags, context)
