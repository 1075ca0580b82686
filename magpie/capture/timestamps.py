"""Event timestamps and clock-skew correction (compat §1.8).

The client's clock may be wrong; ``sent_at`` tells how wrong. The order is:
an ``offset`` wins, then a parsed ``timestamp`` corrected by the skew between
``sent_at`` and the server's ``now``, then ``now``. Anything more than 23 hours
in the future is clamped to ``now``. A client's date that parses but lies
outside the years 1 to 9999 once in UTC is refused (``invalid_timestamp``):
nothing downstream can hold it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from magpie.errors import InvalidTimestamp

FUTURE_CUTOFF = timedelta(hours=23)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHORT_OFFSET = re.compile(r"([+-]\d{2})$")
_EXTRA_FRACTION = re.compile(r"(\.\d{6})\d+")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
_CIVIL_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d")
_EARLIEST_MS_SENT_AT = datetime(2021, 1, 1, tzinfo=UTC)
# Longer than any date format SDKs send: such text is not parsed at all.
MAX_TIMESTAMP_LENGTH = 100


def parse_timestamp(value: str) -> datetime | None:
    """Parse the date formats SDKs send; None when nothing fits."""
    try:
        # The common case (what every SDK sends) in one C call.
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        pass
    text = value.strip()
    if not text:
        return None
    for parser in _PARSERS:
        found = parser(text)
        if found is not None:
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    return None


def _iso(text: str) -> datetime | None:
    if "T" in text or " " in text:
        text = _EXTRA_FRACTION.sub(r"\1", _SHORT_OFFSET.sub(r"\1:00", text))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _civil(text: str) -> datetime | None:
    for fmt in _CIVIL_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _rfc2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _epoch(text: str) -> datetime | None:
    if not _NUMERIC.match(text):
        return None
    number = float(text)
    # Thirteen digits or more are milliseconds; fewer are seconds.
    seconds = number / 1000 if abs(number) >= 1e11 else number
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return None


_PARSERS = (_iso, _civil, _rfc2822, _epoch)


def parse_client_time(value: str, attr: str) -> datetime | None:
    """A date sent by a client, in UTC; None when it is not a date.

    Raises InvalidTimestamp (naming ``attr``) when it is a date whose UTC
    instant falls outside the years 1 to 9999, such as
    ``0001-01-01T00:00:00+05:00``: Python cannot hold it, nor can the store.
    """
    if len(value) > MAX_TIMESTAMP_LENGTH:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidTimestamp(
            f"{attr} {value!r} is outside the years 1 to 9999 in UTC", attr=attr
        ) from None


def sent_at_from_millis(value: str | None) -> datetime | None:
    """``?_=`` / ``?sent_at=`` in milliseconds; years up to 2020 mean the client sent seconds."""
    if not value or not _NUMERIC.match(value.strip()):
        return None
    try:
        at = EPOCH + timedelta(milliseconds=float(value))
    except OverflowError:
        return None
    return at if at >= _EARLIEST_MS_SENT_AT else None


def resolve_timestamp(
    *,
    now: datetime,
    timestamp: str | None,
    offset_ms: int | None,
    sent_at: datetime | None,
    ignore_sent_at: bool,
) -> datetime:
    """The event's time in UTC, after skew correction and clamping."""
    try:
        if offset_ms is not None:
            # The offset wins, so the timestamp beside it is not even looked at.
            resolved = now - timedelta(milliseconds=offset_ms)
        else:
            parsed = parse_client_time(timestamp, "timestamp") if timestamp else None
            effective_sent_at = None if ignore_sent_at else sent_at
            if parsed is None:
                resolved = now
            elif effective_sent_at is not None:
                resolved = parsed - (effective_sent_at - now)
            else:
                resolved = parsed
    except OverflowError:
        return EPOCH
    if resolved - now > FUTURE_CUTOFF:
        return now
    return resolved.astimezone(UTC)
