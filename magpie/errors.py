"""One error hierarchy: every expected failure has a stable code, an HTTP status
and a message that is safe to show to the caller.

Capture endpoints render these in PostHog's shape ``{"status", "code", "error"}``;
the private API renders them as ``{"type", "code", "detail", "attr"}``.
"""

from __future__ import annotations


class MagpieError(Exception):
    status: int = 500
    code: str = "internal_error"
    type: str = "server_error"

    def __init__(self, message: str, *, attr: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attr = attr

    def capture_body(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "error": self.message}

    def api_body(self) -> dict[str, object]:
        return {"type": self.type, "code": self.code, "detail": self.message, "attr": self.attr}


def _error(name: str, status: int, code: str, kind: str) -> type[MagpieError]:
    return type(name, (MagpieError,), {"status": status, "code": code, "type": kind})


# Capture errors, with PostHog capture's codes.
IngestKeyRequired = _error("IngestKeyRequired", 401, "ingest_key_required", "authentication_error")
IngestKeyUnknown = _error("IngestKeyUnknown", 403, "ingest_key_unknown", "authentication_error")
UnroutableEvents = _error("UnroutableEvents", 400, "unroutable_events", "validation_error")
RequestDecodingError = _error("RequestDecodingError", 400, "request_decoding_error", "validation_error")
RequestParsingError = _error("RequestParsingError", 400, "request_parsing_error", "validation_error")
EmptyBatch = _error("EmptyBatch", 400, "empty_batch", "validation_error")
MissingEventName = _error("MissingEventName", 400, "missing_event_name", "validation_error")
MissingDistinctId = _error("MissingDistinctId", 400, "missing_distinct_id", "validation_error")
InvalidCookielessMode = _error(
    "InvalidCookielessMode", 400, "invalid_cookieless_mode", "validation_error"
)
PayloadTooLarge = _error("PayloadTooLarge", 413, "payload_too_large", "validation_error")
UnsupportedEncoding = _error("UnsupportedEncoding", 415, "unsupported_encoding", "validation_error")
ServiceUnavailable = _error("ServiceUnavailable", 503, "service_unavailable", "server_error")

# Private API errors.
NotAuthenticated = _error("NotAuthenticated", 401, "not_authenticated", "authentication_error")
PermissionDenied = _error("PermissionDenied", 403, "permission_denied", "authentication_error")
NotFound = _error("NotFound", 404, "not_found", "invalid_request")
InvalidInput = _error("InvalidInput", 400, "invalid_input", "validation_error")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed", "invalid_request")
