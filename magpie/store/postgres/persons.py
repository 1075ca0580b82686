"""Loading the persons a batch touches, locked, and writing back what changed.

Two workers may hold distinct ids of one person (the queue is partitioned by
distinct id, and a merge joins ids of different partitions), so loading takes
row locks that keep those persons to this unit until it commits:

1. read who owns the batch's distinct ids;
2. lock those persons (``FOR UPDATE``), always in (project, uuid) order, so two
   units that want the same persons queue up instead of deadlocking;
3. read the owners again: a merge that committed while this unit waited may
   have moved an id to a person not locked yet; lock that one too and read
   again (out of order now, so PostgreSQL may find a deadlock and abort one
   unit, which then runs again).

Once a person is locked its ids stay put: only a unit holding that person's
lock moves them. Rows that do not exist yet cannot be locked; a unit that
creates one inserts it with ``ON CONFLICT DO NOTHING`` and checks the count, so
of two units creating the same distinct id, person or personless id, the
second one waits for the first, finds the row, and runs again from a fresh
read. Writes are a few set-based statements over arrays (``unnest``), never one
per event or per person.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from psycopg.rows import TupleRow

from magpie.store.postgres.conflicts import ConcurrentChange, expect_rows
from magpie.store.postgres.database import Connection
from magpie.store.postgres.text import jsonb_text, pg_text
from magpie.store.state import Key, Person, PersonState

PersonKey = tuple[int, uuid.UUID]
# Rounds of "lock the owners, read the owners again" before giving up on a
# batch whose ids keep moving (the unit then runs again from the start).
LOCK_ROUNDS = 4

_OWNERS = """
SELECT d.project_id, d.distinct_id, d.person_uuid
FROM unnest(%s::bigint[], %s::text[]) AS k (project_id, distinct_id)
JOIN person_distinct_ids AS d
  ON d.project_id = k.project_id AND d.distinct_id = k.distinct_id
"""

# ORDER BY is applied before the rows are locked, so locks are taken in order.
_LOCK_PERSONS = """
SELECT p.project_id, p.uuid, p.properties, p.created_at, p.is_identified, p.version,
       p.last_seen_at
FROM persons AS p
JOIN unnest(%s::bigint[], %s::uuid[]) AS k (project_id, uuid)
  ON p.project_id = k.project_id AND p.uuid = k.uuid
ORDER BY p.project_id, p.uuid
FOR UPDATE OF p
"""

_DISTINCT_IDS_OF = """
SELECT d.project_id, d.person_uuid, d.distinct_id, d.version
FROM unnest(%s::bigint[], %s::uuid[]) AS k (project_id, person_uuid)
JOIN person_distinct_ids AS d
  ON d.project_id = k.project_id AND d.person_uuid = k.person_uuid
"""

_PERSONLESS = """
SELECT l.project_id, l.distinct_id, l.is_merged
FROM unnest(%s::bigint[], %s::text[]) AS k (project_id, distinct_id)
JOIN personless_distinct_ids AS l
  ON l.project_id = k.project_id AND l.distinct_id = k.distinct_id
"""

_INSERT_PERSONS = """
INSERT INTO persons (project_id, uuid, properties, created_at, is_identified, version,
                     last_seen_at)
SELECT project_id, uuid, properties::jsonb, created_at, is_identified, version, last_seen_at
FROM unnest(%s::bigint[], %s::uuid[], %s::text[], %s::timestamp[], %s::boolean[],
            %s::bigint[], %s::timestamp[])
     AS k (project_id, uuid, properties, created_at, is_identified, version, last_seen_at)
ON CONFLICT DO NOTHING
"""

_UPDATE_PERSONS = """
UPDATE persons AS p
SET properties = k.properties::jsonb, created_at = k.created_at,
    is_identified = k.is_identified, version = k.version, last_seen_at = k.last_seen_at
FROM unnest(%s::bigint[], %s::uuid[], %s::text[], %s::timestamp[], %s::boolean[],
            %s::bigint[], %s::timestamp[])
     AS k (project_id, uuid, properties, created_at, is_identified, version, last_seen_at)
WHERE p.project_id = k.project_id AND p.uuid = k.uuid
"""

_DELETE_PERSONS = """
DELETE FROM persons AS p
USING unnest(%s::bigint[], %s::uuid[]) AS k (project_id, uuid)
WHERE p.project_id = k.project_id AND p.uuid = k.uuid
"""

_INSERT_DISTINCT_IDS = """
INSERT INTO person_distinct_ids (project_id, distinct_id, person_uuid, version)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::bigint[])
ON CONFLICT DO NOTHING
"""

# A move names the owner the id had when it was read; under the lock of that
# owner it still has it, and a count short of the batch's says otherwise.
_MOVE_DISTINCT_IDS = """
UPDATE person_distinct_ids AS d
SET person_uuid = k.person_uuid, version = k.version
FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::bigint[], %s::uuid[])
     AS k (project_id, distinct_id, person_uuid, version, previous_owner)
WHERE d.project_id = k.project_id AND d.distinct_id = k.distinct_id
  AND d.person_uuid = k.previous_owner
"""

_UPSERT_OVERRIDES = """
INSERT INTO person_overrides (project_id, distinct_id, person_uuid, version)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::bigint[])
ON CONFLICT (project_id, distinct_id) DO UPDATE SET
    person_uuid = excluded.person_uuid, version = excluded.version
"""

_INSERT_PERSONLESS = """
INSERT INTO personless_distinct_ids (project_id, distinct_id, is_merged, created_at)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::boolean[], %s::timestamp[])
ON CONFLICT DO NOTHING
"""

_MARK_MERGED = """
UPDATE personless_distinct_ids AS l SET is_merged = true
FROM unnest(%s::bigint[], %s::text[]) AS k (project_id, distinct_id)
WHERE l.project_id = k.project_id AND l.distinct_id = k.distinct_id AND NOT l.is_merged
"""

_INSERT_MERGES = """
INSERT INTO person_merges (project_id, event_timestamp, recorded_at, event_uuid, event, kind,
                           source_person_uuid, target_person_uuid, distinct_ids)
SELECT project_id, event_timestamp, %s, event_uuid, event, kind, source_person_uuid,
       target_person_uuid, ARRAY(SELECT jsonb_array_elements_text(distinct_ids::jsonb))
FROM unnest(%s::bigint[], %s::timestamp[], %s::uuid[], %s::text[], %s::text[], %s::uuid[],
            %s::uuid[], %s::text[])
     AS k (project_id, event_timestamp, event_uuid, event, kind, source_person_uuid,
           target_person_uuid, distinct_ids)
"""
# (A merge's ids travel as a JSON list: a text[][] parameter must be rectangular.)


@dataclass
class LoadedPersons:
    """What a unit read, so that its write-back can tell new rows from changed ones."""

    persons: set[PersonKey] = field(default_factory=set)
    # (project, distinct id as stored) → the person that owned it when read.
    owners: dict[Key, uuid.UUID] = field(default_factory=dict)


def load_person_state(
    connection: Connection, keys: Iterable[Key], loaded: LoadedPersons
) -> PersonState:
    state = PersonState()
    # Distinct ids as stored (see text.py); the rules look them up as sent.
    as_sent = {
        (project, pg_text(distinct_id)): (project, distinct_id) for project, distinct_id in keys
    }
    stored = sorted(as_sent)
    if not stored:
        return state
    key_arrays = ([k[0] for k in stored], [k[1] for k in stored])
    owners, rows = _lock_owners(connection, key_arrays)
    people = sorted(set(owners.values()))
    owning = set(people)
    persons: dict[PersonKey, Person] = {}
    for row in rows:
        if (row[0], row[1]) in owning:
            persons[(row[0], row[1])] = Person(
                project_id=row[0],
                uuid=row[1],
                properties=row[2],
                created_at=row[3],
                is_identified=row[4],
                version=row[5],
                last_seen_at=row[6],
            )
    for project, person_uuid, distinct_id, version in connection.execute(
        _DISTINCT_IDS_OF, ([p[0] for p in people], [p[1] for p in people])
    ):
        persons[(project, person_uuid)].distinct_ids[distinct_id] = version
        loaded.owners[(project, distinct_id)] = person_uuid
    for person in persons.values():
        state.load_person(person)
        loaded.persons.add((person.project_id, person.uuid))
    for project, distinct_id, is_merged in connection.execute(_PERSONLESS, key_arrays):
        state.personless[as_sent[(project, distinct_id)]] = is_merged
    for key, sent in as_sent.items():
        if key != sent and key in state.owner:
            state.owner[sent] = state.owner[key]
    return state


def _lock_owners(
    connection: Connection, key_arrays: tuple[list[int], list[str]]
) -> tuple[dict[Key, PersonKey], list[TupleRow]]:
    """Lock every person owning one of these ids; returns the owners and the locked rows."""
    locked: dict[PersonKey, TupleRow] = {}
    for _ in range(LOCK_ROUNDS):
        owners = {
            (project, distinct_id): (project, person_uuid)
            for project, distinct_id, person_uuid in connection.execute(_OWNERS, key_arrays)
        }
        wanted = sorted(set(owners.values()) - locked.keys())
        if not wanted:
            return owners, list(locked.values())
        for row in connection.execute(
            _LOCK_PERSONS, ([w[0] for w in wanted], [w[1] for w in wanted])
        ):
            locked[(row[0], row[1])] = row
    raise ConcurrentChange("distinct ids kept moving while their persons were being locked")


def save_person_state(
    connection: Connection, state: PersonState, recorded_at: datetime, loaded: LoadedPersons
) -> None:
    dirty = [state.persons[key] for key in sorted(state.dirty_persons)]
    created = [p for p in dirty if (p.project_id, p.uuid) not in loaded.persons]
    changed = [p for p in dirty if (p.project_id, p.uuid) in loaded.persons]
    _write_persons(connection, _INSERT_PERSONS, created, "new persons")
    _write_persons(connection, _UPDATE_PERSONS, changed, "locked persons")
    new_ids = _save_distinct_ids(connection, state, loaded)
    # Only persons that were read (and so locked) are in the table to delete;
    # one created and merged away within the batch never reached it.
    deleted = sorted(key for key in state.deleted_persons if key in loaded.persons)
    if deleted:
        cursor = connection.execute(
            _DELETE_PERSONS, ([d[0] for d in deleted], [d[1] for d in deleted])
        )
        expect_rows(cursor, len(deleted), "merged persons")
        loaded.persons.difference_update(deleted)
    overrides = sorted((pg_key(k), v) for k, v in state.overrides.items())
    if overrides:
        connection.execute(
            _UPSERT_OVERRIDES,
            (
                [k[0] for k, _ in overrides],
                [k[1] for k, _ in overrides],
                [v[0] for _, v in overrides],
                [v[1] for _, v in overrides],
            ),
        )
    _save_personless(connection, state, recorded_at, new_ids)
    _save_merges(connection, state, recorded_at)
    loaded.persons.update((p.project_id, p.uuid) for p in created)


def _write_persons(connection: Connection, sql: str, persons: list[Person], what: str) -> None:
    if not persons:
        return
    cursor = connection.execute(
        sql,
        (
            [p.project_id for p in persons],
            [p.uuid for p in persons],
            [jsonb_text(p.properties) for p in persons],
            [p.created_at for p in persons],
            [p.is_identified for p in persons],
            [p.version for p in persons],
            [p.last_seen_at for p in persons],
        ),
    )
    expect_rows(cursor, len(persons), what)


def _save_distinct_ids(
    connection: Connection, state: PersonState, loaded: LoadedPersons
) -> set[Key]:
    """Insert the batch's new distinct ids and move the ones merged; returns the new ones."""
    new: list[tuple[Key, uuid.UUID, int]] = []
    moved: list[tuple[Key, uuid.UUID, int, uuid.UUID]] = []
    for key in sorted(state.dirty_distinct_ids):
        owner = state.owner[key]
        version = state.persons[(key[0], owner)].distinct_ids[key[1]]
        stored = pg_key(key)
        previous = loaded.owners.get(stored)
        if previous is None:
            new.append((stored, owner, version))
        else:
            moved.append((stored, owner, version, previous))
        loaded.owners[stored] = owner
    if new:
        cursor = connection.execute(
            _INSERT_DISTINCT_IDS,
            (
                [n[0][0] for n in new],
                [n[0][1] for n in new],
                [n[1] for n in new],
                [n[2] for n in new],
            ),
        )
        expect_rows(cursor, len(new), "new distinct ids")
    if moved:
        cursor = connection.execute(
            _MOVE_DISTINCT_IDS,
            (
                [m[0][0] for m in moved],
                [m[0][1] for m in moved],
                [m[1] for m in moved],
                [m[2] for m in moved],
                [m[3] for m in moved],
            ),
        )
        expect_rows(cursor, len(moved), "moved distinct ids")
    return {n[0] for n in new}


def _save_personless(
    connection: Connection, state: PersonState, recorded_at: datetime, new_ids: set[Key]
) -> None:
    rows = {pg_key(k): (state.personless[k], at) for k, at in sorted(state.new_personless.items())}
    # An id a merge gives a person gets a personless row too, unless it has
    # one: if an anonymous event of that id is being stored by another worker
    # right now, one of the two inserts waits for the other and retries, so
    # either the merge sees the id was used (and writes an override for its
    # events) or the anonymous event sees the person.
    for merge in state.merges:
        if merge.kind in ("attach", "create"):
            for distinct_id in merge.distinct_ids:
                key = (merge.project_id, distinct_id)
                stored = pg_key(key)
                if stored in new_ids and key not in state.personless and stored not in rows:
                    rows[stored] = (True, recorded_at)
    if rows:
        keys = sorted(rows)
        cursor = connection.execute(
            _INSERT_PERSONLESS,
            (
                [k[0] for k in keys],
                [k[1] for k in keys],
                [rows[k][0] for k in keys],
                [rows[k][1] for k in keys],
            ),
        )
        expect_rows(cursor, len(keys), "new personless distinct ids")
    merged = sorted({pg_key(k) for k in state.merged_personless} - rows.keys())
    if merged:
        connection.execute(_MARK_MERGED, ([k[0] for k in merged], [k[1] for k in merged]))


def _save_merges(connection: Connection, state: PersonState, recorded_at: datetime) -> None:
    merges = state.merges
    if not merges:
        return
    connection.execute(
        _INSERT_MERGES,
        (
            recorded_at,
            [m.project_id for m in merges],
            [m.event_timestamp for m in merges],
            [m.event_uuid for m in merges],
            [m.event for m in merges],
            [m.kind for m in merges],
            [m.source_person_uuid for m in merges],
            [m.target_person_uuid for m in merges],
            [jsonb_text(list(m.distinct_ids)) for m in merges],
        ),
    )


def pg_key(key: Key) -> Key:
    return (key[0], pg_text(key[1]))
