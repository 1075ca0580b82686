"""The SDK's name and version, as sent in `$lib`, `$lib_version` and the User-Agent."""

from __future__ import annotations

__version__ = "0.1.0"

# `$lib` lets the server (and billing breakdowns) tell this SDK's events apart
# from posthog-js ("web") and posthog-python ("posthog-python").
LIB_NAME = "magpie-python"
