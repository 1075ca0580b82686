"""The kept actor lists (magpie/query/actors/cache.py): bounded by the ids they hold,
least recently used first out."""

from __future__ import annotations

import pytest

from magpie.query.actors import cache
from magpie.query.actors.actor_set import actor_set


def _ids(n: int, prefix: str) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_the_least_recently_used_list_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_IDS", 10)
    lists = cache.ActorLists()
    lists.put("a", actor_set(_ids(4, "a")))
    lists.put("b", actor_set(_ids(4, "b")))
    assert lists.get("a") is not None  # "a" is now the most recently used
    lists.put("c", actor_set(_ids(4, "c")))  # 12 ids: one list must go
    assert lists.get("b") is None
    assert lists.get("a") is not None and lists.get("c") is not None


def test_a_list_larger_than_the_bound_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_IDS", 10)
    lists = cache.ActorLists()
    lists.put("small", actor_set(_ids(3, "s")))
    lists.put("huge", actor_set(_ids(11, "h")))
    assert lists.get("huge") is None
    assert lists.get("small") is not None


def test_the_number_of_lists_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_LISTS", 2)
    lists = cache.ActorLists()
    for key in ("a", "b", "c"):
        lists.put(key, actor_set([key]))
    assert [lists.get(k) is not None for k in ("a", "b", "c")] == [False, True, True]
