"""Records every store reads and writes, named for what they are, not for an engine.

Plain dataclasses: nothing here imports a driver, so the layers above
``magpie/store/`` can use them without knowing which backend holds the data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from magpie import scopes


@dataclass
class IngestionWarning:
    project_id: int
    type: str
    details: dict[str, Any]
    event_uuid: str | None
    timestamp: datetime


@dataclass(frozen=True)
class UsageCount:
    """Events of one billing class counted at ingestion, to add to a project's usage."""

    project_id: int
    day: date
    lib: str
    lib_version: str
    event_class: str  # anonymous | identified | excluded
    excluded_event: str  # the event's name when excluded, else ""
    events: int


@dataclass(frozen=True)
class UsageRow:
    """A project's stored usage for one day, SDK, version and billing class."""

    day: date
    lib: str
    lib_version: str
    event_class: str
    excluded_event: str
    events: int


@dataclass(frozen=True)
class QuotaLimits:
    max_events: int | None = None
    max_amount: float | None = None

    @property
    def active(self) -> bool:
        return self.max_events is not None or self.max_amount is not None


# -- projects and keys ------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    api_token: str
    timezone: str
    created_at: datetime
    test_account_filters: list[dict[str, Any]] = field(default_factory=list)
    week_start_day: int = 0
    # Path cleaning rules ({regex, alias, order}) for paths with pathReplacements.
    path_cleaning_filters: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ApiKey:
    """A personal API key as stored (its value is never kept, only a digest)."""

    id: str
    label: str
    mask_value: str
    scopes: tuple[str, ...]
    # Project ids the key reaches; empty: every project, including later ones.
    scoped_teams: tuple[int, ...]
    created_at: datetime
    last_used_at: datetime | None = None

    @property
    def reaches_every_project(self) -> bool:
        return not self.scoped_teams

    def reaches(self, project_id: int) -> bool:
        return self.reaches_every_project or project_id in self.scoped_teams

    def allows(self, scope: str) -> bool:
        return scopes.allows(self.scopes, scope)

    def covers(self, other: ApiKey) -> bool:
        """Whether ``other`` can do nothing, nowhere, that this key cannot."""
        if scopes.missing(self.scopes, other.scopes):
            return False
        if self.reaches_every_project:
            return True
        return not other.reaches_every_project and set(other.scoped_teams) <= set(self.scoped_teams)


@dataclass(frozen=True)
class IssuedKey:
    """A key just created, with its value: shown once, then only its digest remains."""

    key: ApiKey
    value: str


# -- what the read API shows --------------------------------------------------------


@dataclass(frozen=True)
class EventFilter:
    project_id: int
    distinct_id: str | None = None
    person_id: UUID | None = None
    event: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    # One event property: events where it equals ``property_value`` (as text),
    # or, with no value, where it is set.
    property_key: str | None = None
    property_value: str | None = None
    # A group's events: those whose ``$group_N`` (N = the index) is this key.
    group: tuple[int, str] | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class StoredEvent:
    uuid: UUID
    event: str
    distinct_id: str
    timestamp: datetime  # UTC
    properties: dict[str, Any]
    elements_chain: str
    person_id: UUID  # resolved through merges
    person_mode: str


@dataclass(frozen=True)
class MergeEvent:
    """One step of a person's identity history."""

    event_timestamp: datetime
    recorded_at: datetime
    event_uuid: UUID | None
    event: str
    kind: str  # attach | create | merge
    source_person_uuid: UUID | None
    target_person_uuid: UUID
    distinct_ids: list[str]


@dataclass(frozen=True)
class GroupRecord:
    """A group as the API shows it: its type's index, its key and its properties."""

    group_type_index: int
    group_key: str
    properties: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class PropertyCount:
    """A property name (or value) and how many groups have it."""

    name: Any
    count: int


def property_names_by_type(rows: Iterable[tuple[int, Any, int]]) -> dict[int, list[PropertyCount]]:
    """``(group_type_index, name, count)`` rows, in their order, under each group type."""
    found: dict[int, list[PropertyCount]] = {}
    for index, name, count in rows:
        found.setdefault(index, []).append(PropertyCount(name, count))
    return found


@dataclass(frozen=True)
class PersonRecord:
    uuid: UUID
    properties: dict[str, Any]
    is_identified: bool
    created_at: datetime
    last_seen_at: datetime | None
    version: int
    distinct_ids: list[str]
    merge_history: list[MergeEvent] | None = None  # read for one person only


@dataclass(frozen=True)
class StoredWarning:
    type: str
    details: dict[str, Any]
    event_uuid: UUID | None
    timestamp: datetime


# -- accounts and what the web UI saves -------------------------------------------


def email_key(email: str) -> str:
    """Emails are unique whatever their case: Ada@x.com and ada@x.com are one account."""
    return email.strip().lower()


@dataclass(frozen=True)
class User:
    """Someone who logs in to the web UI. The password hash never leaves the store
    except to be checked (``UserStore.password_hash``)."""

    id: int
    email: str
    created_at: datetime


@dataclass(frozen=True)
class Session:
    """A logged-in browser; the store knows it by a digest of its token only."""

    user: User
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Insight:
    id: int
    project_id: int
    short_id: str
    name: str
    description: str
    query: dict[str, Any]  # a TrendsQuery, HogQLQuery or PostHog's InsightVizNode wrapper
    created_at: datetime
    last_modified_at: datetime
    dashboards: tuple[int, ...] = ()


@dataclass(frozen=True)
class DashboardTile:
    id: int
    insight: Insight


@dataclass(frozen=True)
class Dashboard:
    id: int
    project_id: int
    name: str
    description: str
    # A date range for every tile: {"date_from": ..., "date_to": ...}, or {}.
    filters: dict[str, Any]
    created_at: datetime
    tiles: tuple[DashboardTile, ...] = ()


# -- cohorts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """A named set of persons: from a definition (``filters``, recomputed) or, when
    ``is_static``, from a list of distinct ids. ``version`` counts the times its
    membership was stored; ``count`` is the size of the membership now stored
    (None before the first computation)."""

    id: int
    project_id: int
    name: str
    description: str
    filters: dict[str, Any]
    is_static: bool
    deleted: bool
    version: int
    count: int | None
    last_calculation: datetime | None
    errors_calculating: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class CohortCount:
    """A cohort's size when one membership was stored (its ``version``)."""

    version: int
    count: int
    calculated_at: datetime


# -- feature flags ------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureFlag:
    """A flag as stored. ``filters`` is PostHog's filters JSON (condition groups,
    multivariate variants, payloads, aggregation_group_type_index …), checked by
    ``magpie/flags/filters.py`` before it is saved."""

    id: int
    project_id: int
    key: str
    name: str
    filters: dict[str, Any]
    active: bool
    ensure_experience_continuity: bool
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    deleted: bool = False
    # PostHog's remote-config flag: it serves its "true" payload as a configuration.
    is_remote_configuration: bool = False


@dataclass(frozen=True)
class FlagVersion:
    """One saved state of a flag: who changed it, when, and to what."""

    flag_id: int
    version: int
    changed_at: datetime
    changed_by: str | None
    # The flag's fields after the change: key, name, filters, active,
    # ensure_experience_continuity, deleted.
    state: dict[str, Any]


@dataclass(frozen=True)
class FlagContext:
    """What the stores know of the ids in one flags request."""

    # distinct id → (its person's uuid, the person's properties); ids without a
    # person (anonymous visitors) are absent.
    persons: dict[str, tuple[UUID, dict[str, Any]]]
    group_types: dict[int, str]  # index → type name
    groups: dict[str, dict[str, Any]]  # type name → the stored group's properties
    # Experience continuity: flag key → hash key, of these ids (the first id's first).
    hash_keys: dict[str, str]


@dataclass(frozen=True)
class FlagDirectory:
    """Every distinct id of a project that has a person, with the person, and every
    id's continuity hash keys: what ``/flags`` may keep whole in memory."""

    persons: dict[str, tuple[UUID, dict[str, Any]]]  # distinct id → (uuid, properties)
    hash_keys: dict[str, dict[str, str]]  # distinct id → flag key → hash key


# -- actions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """A named set of events (PostHog's action): an event matches when it matches
    any of ``steps``, each a dict in PostHog's action step shape, checked by
    ``magpie/query/actions.py`` before it is saved. A deleted action is kept."""

    id: int
    project_id: int
    name: str
    description: str
    steps: list[dict[str, Any]]
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    deleted: bool
