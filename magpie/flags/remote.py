"""Remote evaluation: what ``/flags`` and ``/decide`` answer for one request.

The subject's properties come from the stores with the request's overrides
merged over them (compat §6.3): a distinct id with a person has the person's
properties; one without (an anonymous visitor) has only what the client sent,
so a person-property condition can match it only through those. Groups
likewise. Experience continuity stores the request's ``$anon_distinct_id`` as
the hash key of its ids for every continuity flag (compat-2 §10.2).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from magpie.capture.rules import clean_distinct_id, id_text, stringify
from magpie.clock import Clock
from magpie.errors import MissingDistinctId
from magpie.flags.cohorts import CohortMembership
from magpie.flags.context_cache import ContextCache, ContextSource
from magpie.flags.definitions import FlagDefinitions
from magpie.flags.kept import NotKept
from magpie.flags.responses import FlagResult
from magpie.flags.subject import Subject
from magpie.store.model import FlagContext

log = logging.getLogger(__name__)
MAX_FLAG_KEYS = 1000


@dataclass(frozen=True)
class KeptSources:
    """The in-memory side of what evaluation reads (``evaluate_kept``)."""

    context: ContextCache
    cohorts: CohortMembership  # raising NotKept where it would read a store


@dataclass(frozen=True)
class FlagsRequest:
    distinct_id: str
    groups: dict[str, str]
    person_properties: dict[str, Any]
    group_properties: dict[str, dict[str, Any]]
    anon_distinct_id: str | None = None
    device_id: str | None = None
    flag_keys: tuple[str, ...] | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> FlagsRequest:
        """The fields SDKs send, under any of the names PostHog accepts (compat §6.1)."""
        raw_id = _first(body, "distinct_id", "$distinct_id")
        if raw_id is None:
            raise MissingDistinctId(
                "send the distinct_id to evaluate flags for", attr="distinct_id"
            )
        groups = _object(_first(body, "groups", "$groups"))
        group_properties = _object(_first(body, "group_properties", "$group_properties"))
        keys = _first(body, "flag_keys_to_evaluate", "flag_keys")
        return cls(
            distinct_id=clean_distinct_id(raw_id),
            groups={str(k): _text(v) for k, v in groups.items() if v is not None and v != ""},
            person_properties=_object(_first(body, "person_properties", "$properties")),
            group_properties={
                str(k): v for k, v in group_properties.items() if isinstance(v, dict)
            },
            anon_distinct_id=_optional_id(_first(body, "$anon_distinct_id", "anon_distinct_id")),
            device_id=_optional_id(_first(body, "$device_id", "device_id")),
            flag_keys=(
                tuple(str(k) for k in keys[:MAX_FLAG_KEYS]) if isinstance(keys, list) else None
            ),
        )


def _first(body: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if body.get(name) is not None:
            return body[name]
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return id_text(value if isinstance(value, str) else stringify(value))


def _optional_id(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value)
    return text if text.strip() else None


class RemoteEvaluation:
    def __init__(
        self,
        store: ContextSource,
        definitions: FlagDefinitions,
        cohorts: CohortMembership,
        clock: Clock,
        *,
        kept: KeptSources | None = None,
    ) -> None:
        """``kept``: what can answer from memory alone, for ``evaluate_kept``
        (None: every request is evaluated with ``evaluate``)."""
        self._store = store
        self._definitions = definitions
        self._cohorts = cohorts
        self._clock = clock
        self._kept = kept

    def has_flags(self, project_id: int) -> bool:
        return bool(self._definitions.flag_set(project_id).active)

    def evaluate_kept(
        self, project_id: int, request: FlagsRequest, *, overrides_only: bool = False
    ) -> list[FlagResult]:
        """What ``evaluate`` answers, from memory alone, so it may run on the event
        loop; ``NotKept`` if anything must be read or written in a store."""
        kept = self._kept
        if kept is None:
            raise NotKept
        flags = self._definitions.kept(project_id)
        if not flags.active:
            return []
        if request.anon_distinct_id and flags.continuity_keys:
            raise NotKept  # the hash keys are written to the store
        ids = [request.distinct_id]
        context = kept.context.kept(
            project_id,
            ids if flags.reads_persons or flags.continuity_keys else [],
            request.groups if flags.reads_groups else {},
            hash_keys=bool(flags.continuity_keys),
        )
        subject = _subject(project_id, request, context, overrides_only=overrides_only)
        return flags.evaluate(subject, kept.cohorts, self._clock.now(), request.flag_keys)

    def evaluate(
        self, project_id: int, request: FlagsRequest, *, overrides_only: bool = False
    ) -> tuple[list[FlagResult], bool]:
        """The flags and whether something went wrong while computing them (then
        the flags were evaluated with what could be read, as PostHog does)."""
        flags = self._definitions.flag_set(project_id)
        if not flags.active:
            return [], False
        ids = [request.distinct_id]
        if request.anon_distinct_id and request.anon_distinct_id != request.distinct_id:
            ids.append(request.anon_distinct_id)
        errors = False
        if request.anon_distinct_id and flags.continuity_keys:
            try:
                self._store.add_hash_keys(
                    project_id, ids, sorted(flags.continuity_keys), request.anon_distinct_id
                )
            except Exception:
                log.warning("could not store continuity hash keys", exc_info=True)
                errors = True
        try:
            context = self._store.context(
                project_id,
                ids if flags.reads_persons or flags.continuity_keys else [],
                request.groups if flags.reads_groups else {},
                hash_keys=bool(flags.continuity_keys),
            )
        except Exception:
            log.warning("could not read persons and groups for flags", exc_info=True)
            context, errors = FlagContext({}, {}, {}, {}), True
        subject = _subject(project_id, request, context, overrides_only=overrides_only)
        return flags.evaluate(subject, self._cohorts, self._clock.now(), request.flag_keys), errors


def _subject(
    project_id: int, request: FlagsRequest, context: FlagContext, *, overrides_only: bool
) -> Subject:
    person = context.persons.get(request.distinct_id)
    stored = {} if person is None or overrides_only else person[1]
    groups = {
        name: {**({} if overrides_only else context.groups.get(name, {})), **props}
        for name, props in request.group_properties.items()
    }
    for name in request.groups:
        groups.setdefault(name, {} if overrides_only else context.groups.get(name, {}))
    return Subject(
        project_id=project_id,
        distinct_id=request.distinct_id,
        person_properties={
            "distinct_id": request.distinct_id,
            **stored,
            **request.person_properties,
        },
        person_id=None if person is None else person[0],
        groups=request.groups,
        group_properties=groups,
        group_types=context.group_types,
        device_id=request.device_id,
        anon_distinct_id=request.anon_distinct_id,
        hash_keys=context.hash_keys,
    )
