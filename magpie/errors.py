"""One error hierarchy: every expected failure has a stable code, an HTTP status
and a message that is safe to show to the caller.

Capture endpoints render these in PostHog's shape ``{"status", "code", "error"}``;
the private API renders them as ``{"type", "code", "detail", "attr"}``.
"""

from __future__ import annotations

from collections.abc import Callable


class MagpieError(Exception):
    status: int = 500
    code: str = "internal_error"
    type: str = "server_error"
    # Seconds after which the caller may try again (sent as Retry-After), if any.
    retry_after: int | None = None

    def __init__(
        self, message: str, *, attr: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr
        if retry_after is not None:
            self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (capture decodes in other processes).
        return (
            self.__class__,
            (self.message,),
            {"attr": self.attr, "retry_after": self.retry_after},
        )

    def capture_body(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "error": self.message}

    def api_body(self) -> dict[str, object]:
        return {"type": self.type, "code": self.code, "detail": self.message, "attr": self.attr}


# Capture errors, with PostHog capture's codes.
class IngestKeyRequired(MagpieError):
    status, code, type = 401, "ingest_key_required", "authentication_error"


class IngestKeyUnknown(MagpieError):
    status, code, type = 403, "ingest_key_unknown", "authentication_error"


class UnroutableEvents(MagpieError):
    status, code, type = 400, "unroutable_events", "validation_error"


class RequestDecodingError(MagpieError):
    status, code, type = 400, "request_decoding_error", "validation_error"


class RequestParsingError(MagpieError):
    status, code, type = 400, "request_parsing_error", "validation_error"


class EmptyBatch(MagpieError):
    status, code, type = 400, "empty_batch", "validation_error"


class MissingEventName(MagpieError):
    status, code, type = 400, "missing_event_name", "validation_error"


class MissingDistinctId(MagpieError):
    status, code, type = 400, "missing_distinct_id", "validation_error"


class InvalidCookielessMode(MagpieError):
    status, code, type = 400, "invalid_cookieless_mode", "validation_error"


class InvalidTimestamp(MagpieError):
    status, code, type = 400, "invalid_timestamp", "validation_error"


class PayloadTooLarge(MagpieError):
    status, code, type = 413, "payload_too_large", "validation_error"


class UnsupportedEncoding(MagpieError):
    status, code, type = 415, "unsupported_encoding", "validation_error"


class RateLimited(MagpieError):
    status, code, type = 429, "rate_limited", "throttled_error"


class RecordingsNotSupported(MagpieError):
    # 4xx: posthog-js retries only network errors and 5xx, so it does not resend.
    status, code, type = 410, "recordings_not_supported", "invalid_request"


class ServiceUnavailable(MagpieError):
    status, code, type = 503, "service_unavailable", "server_error"
    retry_after = 5


# Tests that tell an engine's "I cannot reach my server" apart from a failed
# statement. A store registers its own (the layers above must not know the
# engine's exception types), and every request that meets one answers 503.
_OUTAGE_TESTS: list[Callable[[BaseException], bool]] = []


def recognise_outage(test: Callable[[BaseException], bool]) -> Callable[[BaseException], bool]:
    """Register ``test``: true for an exception that means a backend is unreachable."""
    _OUTAGE_TESTS.append(test)
    return test


def as_outage(exc: BaseException) -> ServiceUnavailable | None:
    """``exc`` as a 503 if it is an outage of a backend (or already one), else None."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    if any(test(exc) for test in _OUTAGE_TESTS):
        return ServiceUnavailable("a backend is unavailable; try again shortly")
    return None


class QueueUnavailable(ServiceUnavailable):
    """The durable queue (NATS JetStream in cluster mode) cannot store events now:
    capture answers 503 so the SDK retries, never 200 for an event not stored.
    Its own class for the code that handles it, the same code on the wire."""


# Private API errors.
class NotAuthenticated(MagpieError):
    status, code, type = 401, "not_authenticated", "authentication_error"


class PermissionDenied(MagpieError):
    status, code, type = 403, "permission_denied", "authentication_error"


class NotFound(MagpieError):
    status, code, type = 404, "not_found", "invalid_request"


class InvalidInput(MagpieError):
    status, code, type = 400, "invalid_input", "validation_error"


class CurrentProjectUnknown(InvalidInput):
    """``@current`` in a path, but neither a token nor the key picks one project."""

    code = "current_project_unknown"


class MethodNotAllowed(MagpieError):
    status, code, type = 405, "method_not_allowed", "invalid_request"


class Throttled(MagpieError):
    """Too many failed attempts from one address; ``retry_after`` is in seconds."""

    status, code, type = 429, "throttled", "throttled_error"

    def __init__(self, message: str, *, attr: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, attr=attr)
        self.retry_after = retry_after


class InvalidFlagFilters(InvalidInput):
    """A feature flag's filters JSON that could not be evaluated as written."""

    code = "invalid_flag_filters"


class FlagKeyTaken(InvalidInput):
    code = "unique"


class InvalidActionSteps(InvalidInput):
    """An action's steps that Magpie cannot match as written (bad shape, or a part
    such as a CSS selector that it does not match)."""

    code = "invalid_action_steps"


class UnknownAction(InvalidInput):
    """A query names an action the project does not have (or has deleted)."""

    code = "unknown_action"
