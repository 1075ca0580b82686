"""What the layers above ``magpie/store/`` may ask of a store, whatever its engine.

Each backend (``duckdb/`` embedded, ``clickhouse/`` and ``postgres/`` at
scale) implements these Protocols; ``magpie/app.py`` picks the
implementations from the settings, and nothing else names an engine.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from magpie.store.model import (
    Action,
    ApiKey,
    Cohort,
    CohortCount,
    Dashboard,
    EventFilter,
    FeatureFlag,
    FlagContext,
    FlagDirectory,
    FlagVersion,
    GroupRecord,
    IngestionWarning,
    Insight,
    IssuedKey,
    PersonRecord,
    Project,
    PropertyCount,
    QuotaLimits,
    Session,
    StoredEvent,
    StoredWarning,
    UsageCount,
    UsageRow,
    User,
)
from magpie.store.state import GroupState, Key, PersonState

T = TypeVar("T")


class IngestUnit(Protocol):
    """One ingest unit of work: everything written through it is kept together or
    not at all, the queue position with it, so each queued event is stored once."""

    def known_uuids(
        self, keys: Sequence[tuple[int, str]], earliest: datetime, latest: datetime
    ) -> set[str]:
        """Which of these (project, event uuid) pairs, timed between ``earliest`` and
        ``latest``, are stored already (SDK retries, replays)."""
        ...

    def load_persons(self, keys: set[Key]) -> PersonState:
        """The persons owning these (project, distinct id) pairs, with all their ids."""
        ...

    def load_groups(self, projects: set[int], keys: set[tuple[int, str, str]]) -> GroupState:
        """Group types of these projects, and the groups named (project, type, key)."""
        ...

    def save_persons(self, state: PersonState, recorded_at: datetime) -> None:
        """Write back what the batch changed: persons, distinct ids, overrides, merges."""
        ...

    def save_groups(self, state: GroupState) -> None: ...

    def append_events(self, columns: dict[str, list[Any]]) -> int:
        """Store new, distinct events given as column lists; returns how many."""
        ...

    def add_usage(self, counts: Sequence[UsageCount]) -> None: ...

    def add_dropped(self, project_id: int, day: date, events: int) -> None:
        """Events capture dropped for a project over its quota."""
        ...

    def add_warnings(self, warnings: Sequence[IngestionWarning]) -> None: ...

    def save_position(self, consumer: str, position: int) -> None: ...


class IngestStore(Protocol):
    """Where the ingest worker keeps what it has read from the queue."""

    def position(self, consumer: str) -> int:
        """How far ``consumer`` has committed (0 when it never has)."""
        ...

    def committed_positions(self, consumers: Sequence[str]) -> dict[str, int]:
        """How far each consumer has committed, whoever commits it (another worker
        process included), read without claiming any: for status reports."""
        ...

    def transact(self, work: Callable[[IngestUnit], T]) -> T:
        """Run ``work`` as one unit of work and commit it. Work that loses a write
        conflict to another writer is run again from the start (so ``work`` must
        only read and write through the unit); any other error undoes it all."""
        ...

    def dead_letter(
        self,
        consumer: str,
        position: int,
        next_position: int,
        payload: bytes,
        error: str,
        at: datetime,
    ) -> None:
        """Keep a record that could not be ingested, and move ``consumer`` past it."""
        ...


class ProjectStore(Protocol):
    def create(self, name: str, timezone: str = "UTC") -> Project:
        """A new project with a new token (``phc_…``)."""
        ...

    def get(self, project_id: int) -> Project | None: ...

    def by_token(self, token: str) -> Project | None: ...

    def update(self, project_id: int, **changes: Any) -> Project | None:
        """Change a project's name, timezone, test_account_filters, week_start_day or
        path_cleaning_filters."""
        ...

    def all(self) -> list[Project]: ...


class ApiKeyStore(Protocol):
    """Personal API keys (``phx_…``); a store keeps a digest of each, never its value."""

    def create(
        self, label: str, scope_list: tuple[str, ...] = ..., scoped_teams: tuple[int, ...] = ()
    ) -> IssuedKey:
        """A new key; the defaults (every scope, every project) are the owner's key."""
        ...

    def find(self, value: str) -> ApiKey | None:
        """The key whose value this is, if it exists (and was not revoked)."""
        ...

    def is_valid(self, value: str) -> bool: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> bool:
        """Delete the key; False if there was none with this id."""
        ...

    def touch(self, key: ApiKey) -> ApiKey:
        """Record that ``key`` was used now."""
        ...


class BillingStore(Protocol):
    """Usage counters (written by ingestion), quotas and the price list."""

    def usage_rows(self, project_id: int, start: date, end: date) -> list[UsageRow]: ...

    def dropped_events(self, project_id: int, start: date, end: date) -> int:
        """Events capture refused because the project was over its quota."""
        ...

    def quota_limits(self) -> dict[int, QuotaLimits]: ...

    def set_quota_limits(self, project_id: int, limits: QuotaLimits) -> None: ...

    def stored_pricing(self) -> Any | None: ...

    def store_pricing(self, pricing: dict[str, Any], at: datetime) -> None: ...


class EventReader(Protocol):
    def list_events(self, where: EventFilter) -> list[StoredEvent]:
        """Newest first, with ``person_id`` resolved through merges."""
        ...


class PersonReader(Protocol):
    def list_persons(
        self,
        project_id: int,
        *,
        distinct_id: str | None = None,
        search: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PersonRecord]: ...

    def get_person(self, project_id: int, person_uuid: uuid.UUID) -> PersonRecord | None:
        """One person with its distinct ids and merge history."""
        ...

    def list_warnings(
        self, project_id: int, *, type_: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[StoredWarning]: ...


class GroupReader(Protocol):
    """Groups as ``$groupidentify`` left them, for the groups API."""

    def group_types(self, project_id: int) -> dict[int, str]:
        """index → type name, in order of first use."""
        ...

    def list_groups(
        self,
        project_id: int,
        group_type_index: int,
        *,
        search: str | None = None,
        key_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[GroupRecord]:
        """Newest first (then by key); ``search`` matches the key or the properties'
        text, ``key_contains`` the key only, both ignoring case."""
        ...

    def get_group(
        self, project_id: int, group_type_index: int, group_key: str
    ) -> GroupRecord | None: ...

    def property_names(self, project_id: int) -> dict[int, list[PropertyCount]]:
        """Per group type, each property name and how many groups have it, most
        used first (then by name)."""
        ...

    def property_values(
        self,
        project_id: int,
        group_type_index: int,
        key: str,
        *,
        value_contains: str | None = None,
        limit: int = 20,
    ) -> list[PropertyCount]:
        """The values groups of a type have for ``key`` (not null), most common first."""
        ...


class UserStore(Protocol):
    """Web UI accounts: an email and an argon2 hash (made and checked in ``magpie/accounts.py``)."""

    def create(self, email: str, password_hash: str) -> User:
        """Raises ``ValueError`` when the email is taken (compared case-insensitively)."""
        ...

    def count(self) -> int: ...

    def all(self) -> list[User]: ...

    def by_email(self, email: str) -> User | None: ...

    def password_hash(self, user_id: int) -> str | None: ...

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """A rehash with newer parameters after a successful login."""
        ...


class SessionStore(Protocol):
    """Server-side sessions, known by the SHA-256 digest of their token."""

    def create(self, token_digest: str, user_id: int, expires_at: datetime) -> Session: ...

    def find(self, token_digest: str, now: datetime) -> Session | None:
        """The session, unless it expired or was ended."""
        ...

    def delete(self, token_digest: str) -> None: ...


class InsightStore(Protocol):
    """Saved insights of a project (PostHog's ``/insights/``)."""

    def create(
        self, project_id: int, short_id: str, name: str, description: str, query: dict[str, Any]
    ) -> Insight: ...

    def get(self, project_id: int, insight_id: int) -> Insight | None: ...

    def list(
        self, project_id: int, *, short_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Insight]:
        """Newest first."""
        ...

    def update(self, project_id: int, insight_id: int, **changes: Any) -> Insight | None:
        """Change ``name``, ``description`` or ``query``."""
        ...

    def delete(self, project_id: int, insight_id: int) -> bool:
        """The insight and its dashboard tiles; False if there was none."""
        ...


class DashboardStore(Protocol):
    """Dashboards of a project, each a list of tiles showing saved insights."""

    def create(self, project_id: int, name: str, description: str = "") -> Dashboard: ...

    def get(self, project_id: int, dashboard_id: int) -> Dashboard | None:
        """With its tiles, in the order they were added."""
        ...

    def list(self, project_id: int) -> list[Dashboard]:
        """Oldest first, without tiles."""
        ...

    def update(self, project_id: int, dashboard_id: int, **changes: Any) -> Dashboard | None:
        """Change ``name``, ``description`` or ``filters``."""
        ...

    def delete(self, project_id: int, dashboard_id: int) -> bool: ...

    def add_tile(self, project_id: int, dashboard_id: int, insight_id: int) -> bool:
        """Show the insight on the dashboard (once); False if either is not the project's."""
        ...

    def remove_tile(
        self,
        project_id: int,
        dashboard_id: int,
        *,
        tile_id: int | None = None,
        insight_id: int | None = None,
    ) -> bool: ...

    def claim_default(self, project_id: int) -> bool:
        """True the first time it is called for a project, ever: its first dashboard
        is made once, and not again after someone deleted it."""
        ...


class CohortStore(Protocol):
    """Cohort definitions and their stored membership (person uuids).

    Membership is replaced whole for a computed cohort (``set_members``) and
    grown for a static one (``add_static_members``); either way the readers
    (``members``, ``is_member`` and, through the query layer, the logical
    ``cohort_people`` table) see one complete membership, never half of one.
    """

    def create(
        self,
        project_id: int,
        name: str,
        description: str,
        filters: dict[str, Any],
        *,
        is_static: bool = False,
    ) -> Cohort: ...

    def get(self, project_id: int, cohort_id: int) -> Cohort | None:
        """The cohort, deleted or not (``Cohort.deleted`` tells)."""
        ...

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Cohort]:
        """The project's cohorts that are not deleted, newest first."""
        ...

    def computed(self) -> builtins.list[Cohort]:
        """Every project's cohorts that are computed from a definition and not
        deleted, oldest calculation first (what a refresh goes through)."""
        ...

    def update(self, project_id: int, cohort_id: int, **changes: Any) -> Cohort | None:
        """Change ``name``, ``description``, ``filters`` or ``deleted``."""
        ...

    def set_members(
        self, project_id: int, cohort_id: int, person_ids: Sequence[uuid.UUID], at: datetime
    ) -> Cohort | None:
        """Replace the membership with these persons as the next version."""
        ...

    def add_static_members(
        self, project_id: int, cohort_id: int, distinct_ids: Sequence[str], at: datetime
    ) -> builtins.list[uuid.UUID]:
        """Add the persons these distinct ids belong to (ids without a person are
        skipped); returns the persons that were not members before."""
        ...

    def record_failure(self, project_id: int, cohort_id: int, error: str) -> None:
        """A computation failed: count it and keep its message; membership stays."""
        ...

    def members(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[uuid.UUID]:
        """Member persons in a stable order (by uuid)."""
        ...

    def is_member(self, project_id: int, cohort_id: int, person_id: uuid.UUID) -> bool: ...

    def count_history(
        self, project_id: int, cohort_id: int, *, limit: int = 100, offset: int = 0
    ) -> builtins.list[CohortCount]:
        """The count of each stored membership, newest first (one per version)."""
        ...


class MembershipCopy(Protocol):
    """A copy of cohort membership kept beside the events, where the event store is
    another engine than the cohort store (ClickHouse beside PostgreSQL), so queries
    can join it. A write carries the whole membership and the persons it dropped."""

    def write(
        self,
        project_id: int,
        cohort_id: int,
        version: int,
        members: Sequence[uuid.UUID],
        removed: Sequence[uuid.UUID],
    ) -> None: ...


class ActionStore(Protocol):
    """A project's actions (named sets of events), soft deleted."""

    def create(
        self,
        project_id: int,
        name: str,
        *,
        description: str = "",
        steps: builtins.list[dict[str, Any]],
        tags: builtins.list[str] | None = None,
    ) -> Action: ...

    def get(self, project_id: int, action_id: int) -> Action | None:
        """The action, deleted or not (``Action.deleted`` tells)."""
        ...

    def list(self, project_id: int, *, limit: int = 100, offset: int = 0) -> builtins.list[Action]:
        """The project's actions that are not deleted, newest first."""
        ...

    def update(self, project_id: int, action_id: int, **changes: Any) -> Action | None:
        """Change ``name``, ``description``, ``steps``, ``tags`` or ``deleted``."""
        ...


class FeatureFlagStore(Protocol):
    """Feature flags of a project, every change recorded as a version, and what
    flag evaluation reads of persons and groups."""

    def create(
        self,
        project_id: int,
        key: str,
        *,
        name: str,
        filters: dict[str, Any],
        active: bool,
        ensure_experience_continuity: bool,
        changed_by: str | None,
        is_remote_configuration: bool = False,
    ) -> FeatureFlag:
        """Version 1 of a new flag; ``ValueError`` when a flag that is not deleted has the key."""
        ...

    def get(self, project_id: int, flag_id: int) -> FeatureFlag | None:
        """The flag, deleted or not."""
        ...

    def list(self, project_id: int) -> list[FeatureFlag]:
        """The flags that are not deleted, oldest first."""
        ...

    def update(
        self, project_id: int, flag_id: int, changed_by: str | None, **changes: Any
    ) -> FeatureFlag | None:
        """Change ``key``, ``name``, ``filters``, ``active``, ``ensure_experience_continuity``
        or ``is_remote_configuration`` as a new version; ``ValueError`` when the new key
        is taken."""
        ...

    def delete(self, project_id: int, flag_id: int, changed_by: str | None) -> bool:
        """Soft delete, as a new version; its key is free again. False if there was none."""
        ...

    def versions(self, project_id: int, flag_id: int) -> builtins.list[FlagVersion]:
        """Oldest first."""
        ...

    def revision(self, project_id: int) -> int:
        """A number that grows with every change to the project's flags (cache key, ETag)."""
        ...

    def group_types(self, project_id: int) -> dict[int, str]: ...

    def context(
        self,
        project_id: int,
        distinct_ids: Sequence[str],
        groups: dict[str, str],
        *,
        hash_keys: bool = True,
    ) -> FlagContext:
        """The persons of ``distinct_ids``, the groups named (type name → key) and (with
        ``hash_keys``) the continuity hash keys of these ids, the first id's first."""
        ...

    def directory(self, project_id: int, limit: int) -> FlagDirectory | None:
        """Every id of the project with a person, and every id's hash keys, in one
        read: what ``context`` would answer for each; None past ``limit`` ids."""
        ...

    def add_hash_keys(
        self, project_id: int, distinct_ids: Sequence[str], flag_keys: Sequence[str], hash_key: str
    ) -> None:
        """Give ``distinct_ids`` ``hash_key`` for these flags where they have none yet:
        the first hash key an id gets for a flag is kept. Ids need no person yet."""
        ...


@dataclass(frozen=True)
class Stores:
    """One backend's stores, as ``magpie/app.py`` builds them from the settings."""

    projects: ProjectStore
    api_keys: ApiKeyStore
    billing: BillingStore
    events: EventReader
    persons: PersonReader
    groups: GroupReader
    ingest: IngestStore
    users: UserStore
    sessions: SessionStore
    insights: InsightStore
    dashboards: DashboardStore
    cohorts: CohortStore
    feature_flags: FeatureFlagStore
    actions: ActionStore
