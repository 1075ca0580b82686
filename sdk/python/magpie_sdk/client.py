"""The public :class:`Client`: capture events for the one user this app acts for.

The client holds one identity (compat §4: anonymous until identified, like
posthog-js in a browser), stamps it on every event, and hands the encoded
event to a bounded queue that a background thread sends to ``/batch/``.

No public method raises into the host app: analytics must never break the
program it observes. Errors are logged on the ``magpie_sdk`` logger instead.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar

from magpie_sdk.delivery import BatchSender
from magpie_sdk.encoding import MAX_BATCH_BYTES, MAX_EVENT_BYTES, encode_event
from magpie_sdk.ids import clean_person_id
from magpie_sdk.queue import Consumer, EventBuffer
from magpie_sdk.state import (
    PERSON_PROFILES,
    IdentifyTransition,
    Identity,
    PersonProfiles,
)
from magpie_sdk.storage import FileStorage, MemoryStorage, Storage, default_state_path
from magpie_sdk.transport import Transport, UrllibTransport
from magpie_sdk.uuid7 import uuid7
from magpie_sdk.version import LIB_NAME, __version__

logger = logging.getLogger("magpie_sdk")

P = ParamSpec("P")
R = TypeVar("R")

Persistence = Literal["memory", "file"]
DEFAULT_WAIT = 30.0  # seconds flush() and shutdown() wait at most by default


def _never_raise(fallback: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Log and swallow any exception, returning ``fallback`` instead."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except Exception:
                logger.exception("magpie_sdk: %s() failed", method.__name__)
                return fallback  # type: ignore[no-any-return]

        return guarded

    return decorate


class Client:
    """Analytics for one user at a time (a desktop app, CLI, notebook or kiosk).

    ``person_profiles`` works as in posthog-js:

    - ``"identified_only"`` (default): events are anonymous (no person profile,
      cheaper) until :meth:`identify`, :meth:`alias`, :meth:`group`,
      :meth:`set_person_properties`, :meth:`unset_person_properties`,
      :meth:`set_group_properties_for_flags` or :meth:`create_person_profile`;
      identified from then on, until :meth:`reset`.
    - ``"always"``: every event builds a person profile.
    - ``"never"``: no event does; the identifying calls log a warning and do nothing.

    ``persistence="file"`` keeps the identity in a JSON file
    (``~/.magpie/<api_key>.json`` unless ``persistence_path`` is given), so the
    same user is recognised after a restart. ``transport`` and ``sleep`` let
    tests replace the network and the retry wait.
    """

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        person_profiles: PersonProfiles = "identified_only",
        persistence: Persistence = "memory",
        persistence_path: str | os.PathLike[str] | None = None,
        flush_at: int = 100,
        flush_interval: float = 0.5,
        gzip: bool = True,
        timeout: float = 10,
        max_retries: int = 3,
        max_queue_size: int = 10_000,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The constructor validates what it can and logs the rest, in keeping
        # with "never raise into the host app": a typo in a setting must not
        # crash the program at start-up.
        self._lock = threading.RLock()
        self._api_key = api_key.strip() if isinstance(api_key, str) else ""
        if not self._api_key:
            logger.error("Magpie Client needs the project api key (phc_...); no event will be sent")
        if person_profiles not in PERSON_PROFILES:
            logger.error(
                "unknown person_profiles %r (expected one of %s); using 'identified_only'",
                person_profiles,
                ", ".join(PERSON_PROFILES),
            )
            person_profiles = "identified_only"
        self._identity = Identity(
            person_profiles, _make_storage(self._api_key, persistence, persistence_path)
        )
        # The last `$set` sent (posthog-js keeps the same cache): apps tend to
        # call identify() with the same traits on every screen, and repeating
        # an unchanged update would only cost events.
        self._last_person_update: str | None = None
        self._buffer = EventBuffer(max_queue_size)
        sender = BatchSender(
            api_key=self._api_key,
            url=_batch_url(host),
            transport=transport or UrllibTransport(),
            gzip=gzip,
            timeout=timeout,
            max_retries=max_retries,
            sleep=sleep,
        )
        self._consumer = Consumer(
            self._buffer,
            sender,
            flush_at=flush_at,
            flush_interval=flush_interval,
            max_batch_bytes=MAX_BATCH_BYTES,
        )
        self._consumer.start()
        self._shutdown_lock = threading.Lock()
        self._is_shut_down = False
        # The hook holds the queue and the thread, not the client, so a client
        # dropped without shutdown() can be garbage-collected and its queued
        # events are still sent at exit.
        self._exit_hook = _drain_hook(self._buffer, self._consumer)
        atexit.register(self._exit_hook)

    # -- events -------------------------------------------------------------------

    @_never_raise(None)
    def capture(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: datetime | str | None = None,
        uuid: str | uuid_module.UUID | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> str | None:
        """Queue an event; returns its uuid, or None if it was not queued.

        ``timestamp`` defaults to now (a naive datetime is taken as local
        time). ``groups`` adds groups to this event only; use :meth:`group`
        to attach a group to every later event.
        """
        if not isinstance(event, str) or not event:
            logger.error("capture() needs a non-empty event name, got %r", event)
            return None
        props = _as_dict(properties, "capture() properties")
        event_groups = _as_dict(groups, "capture() groups")
        if props is None or event_groups is None:
            return None
        with self._lock:
            return self._enqueue(
                event,
                props,
                timestamp=timestamp,
                event_uuid=uuid,
                groups={str(k): str(v) for k, v in event_groups.items()},
            )

    # -- identity -------------------------------------------------------------------

    @_never_raise(None)
    def identify(
        self,
        distinct_id: str,
        set: Mapping[str, Any] | None = None,  # noqa: A002 - posthog-js's name
        set_once: Mapping[str, Any] | None = None,
    ) -> None:
        """Tell Magpie who the user is (compat §4.5).

        While anonymous, a new id sends ``$identify``, which joins the anonymous
        id (and its earlier events) to the person. Once identified, a different
        id only switches the local id: call :meth:`reset` first when another
        user logs in.
        """
        new_id, problem = clean_person_id(distinct_id)
        set_props = _as_dict(set, "identify() set")
        set_once_props = _as_dict(set_once, "identify() set_once")
        if new_id is None:
            logger.warning("identify() ignored: the distinct id %s", problem)
            return
        if set_props is None or set_once_props is None:
            return
        with self._lock:
            if self._identity.require_person_processing("identify()"):
                self._identify(new_id, set_props, set_once_props)

    def _identify(
        self, new_id: str, set_props: dict[str, Any], set_once_props: dict[str, Any]
    ) -> None:
        previous = self._identity.state.distinct_id
        transition = self._identity.identify(new_id)
        if set_props or set_once_props:
            self._identity.set_person_properties_for_flags(set_props, set_once_props)
        if transition is IdentifyTransition.FIRST_IDENTIFY:
            self._last_person_update = None
            self._enqueue(
                "$identify",
                {"distinct_id": new_id, "$anon_distinct_id": previous},
                person_set=set_props,
                person_set_once=set_once_props,
                # Usually the new local id anyway; not when new_id is the
                # registered alias, which keeps the local id (compat §4.5 step 3).
                distinct_id=new_id,
            )
        elif transition is IdentifyTransition.SAME_ID:
            self._enqueue("$set", {}, person_set=set_props, person_set_once=set_once_props)
        elif set_props or set_once_props:
            self._send_person_properties(set_props, set_once_props)

    @_never_raise(None)
    def alias(self, alias: str) -> None:
        """Give the current user a second id (compat §4.6): sends ``$create_alias``
        with ``{alias, distinct_id: current id}``; the server joins the two."""
        alias_id, problem = clean_person_id(alias)
        if alias_id is None:
            logger.warning("alias() ignored: the alias %s", problem)
            return
        with self._lock:
            if not self._identity.require_person_processing("alias()"):
                return
            original = self._identity.state.distinct_id
            if self._identity.alias(alias_id):
                self._enqueue("$create_alias", {"alias": alias_id, "distinct_id": original})
            else:
                self._identify(alias_id, {}, {})

    @_never_raise(None)
    def group(
        self, group_type: str, group_key: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Attach every later event to a group (``$groups``); sends
        ``$groupidentify`` when the key is new or changed, or properties are given."""
        key = str(group_key) if isinstance(group_key, int | str) else ""
        group_props = _as_dict(properties, "group() properties")
        if not isinstance(group_type, str) or not group_type or not key:
            logger.warning("group() ignored: it needs a group type and a group key")
            return
        if group_props is None:
            return
        with self._lock:
            # posthog-js sends this personless in "never" mode and the server
            # drops it; refusing here says why.
            if not self._identity.require_person_processing("group()"):
                return
            changed = self._identity.register_group(group_type, key)
            if group_props:
                self._identity.set_group_properties_for_flags({group_type: group_props})
            if changed or group_props:
                self._enqueue(
                    "$groupidentify",
                    {"$group_type": group_type, "$group_key": key, "$group_set": group_props},
                )

    @_never_raise(None)
    def set_person_properties(
        self,
        set: Mapping[str, Any] | None = None,  # noqa: A002 - posthog-js's name
        set_once: Mapping[str, Any] | None = None,
    ) -> None:
        """Set properties on the user's person profile (creating it): a ``$set`` event."""
        set_props = _as_dict(set, "set_person_properties() set")
        set_once_props = _as_dict(set_once, "set_person_properties() set_once")
        if set_props is None or set_once_props is None:
            return
        with self._lock:
            if self._identity.require_person_processing("set_person_properties()"):
                self._identity.set_person_properties_for_flags(set_props, set_once_props)
                self._send_person_properties(set_props, set_once_props)

    def _send_person_properties(
        self, set_props: dict[str, Any], set_once_props: dict[str, Any]
    ) -> None:
        fingerprint = json.dumps(
            [self._identity.state.distinct_id, set_props, set_once_props],
            sort_keys=True,
            default=str,
        )
        if fingerprint == self._last_person_update:
            return
        self._last_person_update = fingerprint
        self._enqueue("$set", {}, person_set=set_props, person_set_once=set_once_props)

    @_never_raise(None)
    def unset_person_properties(self, keys: Iterable[str]) -> None:
        """Remove properties from the user's person profile (creating it)."""
        # A lone string is one key, not an iterable of one-letter keys.
        names = [keys] if isinstance(keys, str) else [str(k) for k in keys]
        with self._lock:
            if not self._identity.require_person_processing("unset_person_properties()"):
                return
            self._identity.unset_person_properties_for_flags(names)
            self._last_person_update = None
            # `$unset` is read from properties only (a top-level one is dropped).
            self._enqueue("$set", {"$unset": names})

    @_never_raise(None)
    def create_person_profile(self) -> None:
        """Make later events identified without identifying the user: sends an
        empty ``$set`` once, unless person processing is already on."""
        with self._lock:
            if self._identity.has_person_processing():
                return
            if self._identity.require_person_processing("create_person_profile()"):
                self._enqueue("$set", {}, person_set={}, person_set_once={})

    @_never_raise(None)
    def set_person_properties_for_flags(self, properties: Mapping[str, Any]) -> None:
        """Store person properties locally for feature-flag evaluation.

        Nothing is sent now: they are kept (and persisted) for ``/flags``
        requests. Unlike :meth:`set_person_properties` this does not switch
        person processing on (as in posthog-js, compat §4.3).
        """
        props = _as_dict(properties, "set_person_properties_for_flags() properties")
        if props is None:
            return
        with self._lock:
            self._identity.set_person_properties_for_flags(props)

    @_never_raise(None)
    def set_group_properties_for_flags(self, properties: Mapping[str, Mapping[str, Any]]) -> None:
        """Store group properties (``{group_type: {...}}``) locally for feature-flag
        evaluation. Nothing is sent now; unlike the person variant this does switch
        person processing on (as in posthog-js, compat §4.3)."""
        props = _as_dict(properties, "set_group_properties_for_flags() properties")
        if props is None:
            return
        groups: dict[str, dict[str, Any]] = {}
        for group_type, values in props.items():
            group_values = _as_dict(values, f"set_group_properties_for_flags() [{group_type!r}]")
            if group_values is None:
                return
            groups[str(group_type)] = group_values
        with self._lock:
            if self._identity.require_person_processing("set_group_properties_for_flags()"):
                self._identity.set_group_properties_for_flags(groups)

    @_never_raise(None)
    def reset(self, reset_device_id: bool = False) -> None:
        """Forget the user (log-out): a new anonymous id, groups, alias and stored
        properties cleared; events are anonymous again under ``identified_only``.
        The device id is kept unless ``reset_device_id``."""
        with self._lock:
            self._identity.reset(bool(reset_device_id))
            self._last_person_update = None

    @_never_raise("")
    def get_distinct_id(self) -> str:
        with self._lock:
            return self._identity.state.distinct_id

    @_never_raise("")
    def get_device_id(self) -> str:
        with self._lock:
            return self._identity.state.device_id

    @_never_raise(False)
    def is_identified(self) -> bool:
        with self._lock:
            return self._identity.is_identified

    def _has_person_processing(self) -> bool:
        """Whether the next event will be person-processed (compat §4.3)."""
        with self._lock:
            return self._identity.has_person_processing()

    @_never_raise({})
    def get_person_properties_for_flags(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._identity.state.person_properties_for_flags)

    @_never_raise({})
    def get_group_properties_for_flags(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._identity.state.group_properties_for_flags.items()}

    # -- delivery -------------------------------------------------------------------

    @property
    def dropped_events(self) -> int:
        """Events dropped because the queue was full (the oldest go first)."""
        return self._buffer.dropped

    @property
    def failed_events(self) -> int:
        """Events the server refused (4xx) or that failed after every retry."""
        return self._consumer.failed_events

    @property
    def sent_events(self) -> int:
        return self._consumer.sent_events

    @_never_raise(False)
    def flush(self, timeout: float = DEFAULT_WAIT) -> bool:
        """Send everything queued so far and wait until it is sent or given up.
        False if ``timeout`` seconds passed first."""
        return self._buffer.wait_drained(timeout)

    @_never_raise(False)
    def shutdown(self, timeout: float = DEFAULT_WAIT) -> bool:
        """Flush, then stop the sending thread. Later events are dropped.
        Called automatically at interpreter exit."""
        with self._shutdown_lock:
            if self._is_shut_down:
                return True
            self._is_shut_down = True
        atexit.unregister(self._exit_hook)
        return self._exit_hook(timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- building events ---------------------------------------------------------------

    def _enqueue(
        self,
        event: str,
        properties: Mapping[str, Any],
        *,
        person_set: Mapping[str, Any] | None = None,
        person_set_once: Mapping[str, Any] | None = None,
        timestamp: datetime | str | None = None,
        event_uuid: str | uuid_module.UUID | None = None,
        groups: Mapping[str, str] | None = None,
        distinct_id: str | None = None,
    ) -> str | None:
        """Stamp the identity on an event and queue it. Call with the lock held."""
        if not self._api_key:
            return None
        state = self._identity.state
        sender_id = distinct_id or state.distinct_id
        props = dict(properties)
        props.update(
            {
                # posthog-js puts the id and token in properties; the top-level
                # distinct_id below is what the server reads first.
                "distinct_id": sender_id,
                "token": self._api_key,
                "$device_id": state.device_id,
                "$lib": LIB_NAME,
                "$lib_version": __version__,
            }
        )
        caller_groups = props.get("$groups")
        all_groups = {
            **state.groups,
            **(caller_groups if isinstance(caller_groups, Mapping) else {}),
            **(groups or {}),
        }
        if all_groups:
            props["$groups"] = all_groups
        is_identified, process_person = self._identity.stamp_event()
        # Set last so that no property the caller passed can override them.
        props.pop("$is_identified", None)
        props.pop("$process_person_profile", None)
        props["$is_identified"] = is_identified
        props["$process_person_profile"] = process_person
        message: dict[str, Any] = {
            "event": event,
            "distinct_id": sender_id,
            "properties": props,
            "timestamp": _iso_timestamp(timestamp),
            "uuid": _event_uuid(event_uuid),
        }
        if person_set is not None:
            message["$set"] = dict(person_set)
        if person_set_once is not None:
            message["$set_once"] = dict(person_set_once)
        data, sanitized = encode_event(message)
        if sanitized:
            logger.warning(
                "event %r held values JSON cannot carry (NaN, cycles, odd keys): replaced",
                event,
            )
        if len(data) > MAX_EVENT_BYTES:
            logger.error(
                "event %r dropped: %d bytes is over the %d-byte limit",
                event,
                len(data),
                MAX_EVENT_BYTES,
            )
            return None
        if not self._buffer.put(data):
            logger.warning("event %r dropped: the Magpie client was shut down", event)
            return None
        return str(message["uuid"])


def _drain_hook(buffer: EventBuffer, consumer: Consumer) -> Callable[..., bool]:
    def drain(timeout: float = DEFAULT_WAIT) -> bool:
        deadline = time.monotonic() + timeout
        drained = buffer.wait_drained(timeout)
        buffer.close()
        consumer.join(max(0.0, deadline - time.monotonic()))
        return drained and not consumer.is_alive()

    return drain


def _make_storage(api_key: str, persistence: str, path: str | os.PathLike[str] | None) -> Storage:
    if persistence == "file":
        if path is not None:
            return FileStorage(Path(path))
        try:
            return FileStorage(default_state_path(api_key))
        except (RuntimeError, KeyError, OSError) as exc:
            # No usable home directory (some service accounts, sandboxes).
            logger.error("no home directory for the Magpie state file (%s): using memory", exc)
    elif persistence != "memory":
        logger.error("unknown persistence %r (use 'memory' or 'file'): using memory", persistence)
    return MemoryStorage()


def _batch_url(host: str) -> str:
    text = host.strip() if isinstance(host, str) else ""
    if not text:
        logger.error("Magpie Client needs the server's host, e.g. 'http://127.0.0.1:8000'")
    elif "://" not in text:
        logger.warning("host %r has no scheme; assuming https://", text)
        text = "https://" + text
    # A host may carry a path prefix when Magpie sits behind a reverse proxy.
    return text.rstrip("/") + "/batch/"


def _as_dict(value: object, what: str) -> dict[str, Any] | None:
    """A copy of a mapping argument ({} for None); None, logged, for anything else."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    logger.error("%s must be a mapping, not %s; call ignored", what, type(value).__name__)
    return None


def _iso_timestamp(value: datetime | str | None) -> str:
    if value is None:
        return datetime.now(UTC).isoformat()
    if isinstance(value, datetime):
        # astimezone() on a naive datetime assumes local time, which is what
        # datetime.now() gives; the server would otherwise read it as UTC.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and value.strip():
        return value
    logger.warning("ignoring timestamp %r: expected a datetime or an ISO string", value)
    return datetime.now(UTC).isoformat()


def _event_uuid(value: str | uuid_module.UUID | None) -> str:
    if value is None:
        return uuid7()
    if isinstance(value, uuid_module.UUID):
        return str(value)
    try:
        return str(uuid_module.UUID(str(value)))
    except ValueError:
        # The server refuses a whole request over one invalid uuid.
        logger.warning("ignoring invalid event uuid %r; using a new one", value)
        return uuid7()
