"""ProjectStore and ApiKeyStore: the same behaviour on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

from magpie.clock import utc_naive
from tests.store.conftest import T0, Backend


def test_a_project_is_created_and_found_by_id_and_token(backend: Backend) -> None:
    projects = backend.stores.projects
    made = projects.create("Shop", "Europe/Paris")
    assert made.name == "Shop" and made.timezone == "Europe/Paris"
    assert made.api_token.startswith("phc_") and len(made.api_token) > 40
    assert made.created_at == utc_naive(T0)
    assert made.test_account_filters == [] and made.week_start_day == 0
    assert projects.get(made.id) == made
    assert projects.by_token(made.api_token) == made
    assert projects.get(made.id + 1000) is None
    assert projects.by_token("phc_unknown") is None


def test_projects_are_listed_in_creation_order_with_distinct_tokens(backend: Backend) -> None:
    projects = backend.stores.projects
    made = [projects.create(f"p{i}") for i in range(3)]
    assert projects.all() == made
    assert made[0].id < made[1].id < made[2].id
    assert made[0].timezone == "UTC"
    assert len({p.api_token for p in made}) == 3


def test_an_update_changes_only_the_settings_given(backend: Backend) -> None:
    projects = backend.stores.projects
    made = projects.create("Shop")
    other = projects.create("Other")
    filters = [{"key": "email", "value": "@example.com", "operator": "not_icontains"}]
    changed = projects.update(made.id, test_account_filters=filters, week_start_day=1)
    assert changed is not None
    assert changed.test_account_filters == filters and changed.week_start_day == 1
    assert changed.name == "Shop" and changed.api_token == made.api_token
    renamed = projects.update(made.id, name="Store", timezone="Asia/Tokyo")
    assert renamed is not None
    assert (renamed.name, renamed.timezone) == ("Store", "Asia/Tokyo")
    assert renamed.test_account_filters == filters and renamed.week_start_day == 1
    assert projects.get(made.id) == renamed
    assert projects.get(other.id) == other
    assert projects.update(other.id + 1000, name="nobody") is None


def test_path_cleaning_rules_round_trip(backend: Backend) -> None:
    projects = backend.stores.projects
    made = projects.create("Shop")
    assert made.path_cleaning_filters == []
    rules = [{"regex": "/item/[0-9]+", "alias": "/item/:id", "order": 0}]
    changed = projects.update(made.id, path_cleaning_filters=rules)
    assert changed is not None and changed.path_cleaning_filters == rules
    assert projects.update(made.id, name="Store") == projects.get(made.id)
    assert projects.get(made.id).path_cleaning_filters == rules  # type: ignore[union-attr]


def test_a_key_is_found_by_its_value_only(backend: Backend) -> None:
    keys = backend.stores.api_keys
    issued = keys.create("ci")
    assert issued.value.startswith("phx_")
    key = issued.key
    assert key.label == "ci" and key.scopes == ("*",) and key.scoped_teams == ()
    assert key.mask_value == issued.value[:8] + "…" + issued.value[-4:]
    assert key.created_at == utc_naive(T0) and key.last_used_at is None
    assert keys.find(issued.value) == key
    assert keys.is_valid(issued.value)
    assert keys.find(issued.value + "x") is None
    assert not keys.is_valid("phx_nothing")
    assert keys.get(key.id) == key
    assert keys.get(str(uuid.uuid4())) is None
    assert keys.get("not-a-uuid") is None


def test_scopes_and_projects_of_a_key_round_trip(backend: Backend) -> None:
    keys = backend.stores.api_keys
    issued = keys.create("reader", ("query:read", "person:read"), (7, 3))
    key = keys.get(issued.key.id)
    assert key is not None
    assert key.scopes == ("query:read", "person:read")
    assert key.scoped_teams == (3, 7)
    assert key.reaches(3) and not key.reaches(4)
    assert keys.find(issued.value) == issued.key == key


def test_keys_are_listed_oldest_first_and_revoked_for_good(backend: Backend) -> None:
    keys = backend.stores.api_keys
    first = keys.create("first").key
    backend.clock.set(T0 + timedelta(minutes=1))
    second = keys.create("second").key
    backend.clock.set(T0 + timedelta(minutes=2))
    third = keys.create("third")
    assert keys.all() == [first, second, third.key]
    assert keys.revoke(third.key.id) is True
    assert keys.find(third.value) is None and keys.get(third.key.id) is None
    assert keys.revoke(third.key.id) is False
    assert keys.revoke("not-a-uuid") is False
    assert keys.all() == [first, second]


def test_keys_made_at_one_instant_are_listed_by_id(backend: Backend) -> None:
    keys = backend.stores.api_keys
    made = [keys.create(f"k{i}").key for i in range(6)]
    assert keys.all() == sorted(made, key=lambda k: uuid.UUID(k.id))


def test_touch_records_when_a_key_was_last_used(backend: Backend) -> None:
    keys = backend.stores.api_keys
    key = keys.create("ci").key
    backend.clock.set(T0 + timedelta(hours=3))
    touched = keys.touch(key)
    assert touched.last_used_at == utc_naive(T0 + timedelta(hours=3))
    assert keys.get(key.id) == touched
    assert touched.created_at == key.created_at
