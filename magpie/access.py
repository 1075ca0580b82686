"""Projects and personal API keys: the rules the API and the CLI share.

``by`` is the personal API key asking, over the API; ``None`` is the owner of
the data folder at the console, who may do anything. A key never sees, nor
creates, a key that could do more than itself: more scopes or more projects.
"""

from __future__ import annotations

from collections.abc import Iterable

from magpie import scopes
from magpie.errors import InvalidInput, NotFound, PermissionDenied
from magpie.query.dates import zone
from magpie.store.base import ApiKeyStore, ProjectStore
from magpie.store.model import ApiKey, IssuedKey, Project

MAX_PROJECT_NAME = 200
MAX_KEY_LABEL = 40  # PostHog's limit


def create_project(projects: ProjectStore, name: str, timezone: str = "UTC") -> Project:
    name = name.strip()
    if not name:
        raise InvalidInput("name may not be blank", attr="name")
    if len(name) > MAX_PROJECT_NAME:
        raise InvalidInput(f"name is longer than {MAX_PROJECT_NAME} characters", attr="name")
    zone(timezone)
    return projects.create(name, timezone)


def issue_key(
    api_keys: ApiKeyStore,
    projects: ProjectStore,
    by: ApiKey | None,
    label: str,
    scope_list: Iterable[str],
    scoped_teams: Iterable[int] = (),
) -> IssuedKey:
    """A new key; no project ids means every project ``by`` reaches."""
    label = label.strip()
    if not label:
        raise InvalidInput("label may not be blank", attr="label")
    if len(label) > MAX_KEY_LABEL:
        raise InvalidInput(f"label is longer than {MAX_KEY_LABEL} characters", attr="label")
    requested = list(scope_list)
    if not requested:
        raise InvalidInput("give at least one scope, or '*' for all", attr="scopes")
    try:
        granted = scopes.normalise(requested)
    except ValueError as exc:
        raise InvalidInput(str(exc), attr="scopes") from None
    teams = tuple(sorted(set(scoped_teams)))
    if by is not None:
        teams = _within_creator(by, granted, teams)
    unknown = [t for t in teams if projects.get(t) is None]
    if unknown:
        raise InvalidInput(f"no project {', '.join(map(str, unknown))}", attr="scoped_teams")
    return api_keys.create(label, granted, teams)


def _within_creator(
    by: ApiKey, granted: tuple[str, ...], teams: tuple[int, ...]
) -> tuple[int, ...]:
    lacking = scopes.missing(by.scopes, granted)
    if lacking:
        raise PermissionDenied(
            f"a key cannot create a key with scopes it lacks: {', '.join(lacking)}",
            attr="scopes",
        )
    if by.reaches_every_project:
        return teams
    if not teams:
        return by.scoped_teams
    outside = [t for t in teams if not by.reaches(t)]
    if outside:
        # The same answer whether or not those projects exist.
        raise PermissionDenied(
            f"a key cannot create a key for projects it cannot reach: "
            f"{', '.join(map(str, outside))}",
            attr="scoped_teams",
        )
    return teams


def visible_keys(api_keys: ApiKeyStore, by: ApiKey | None) -> list[ApiKey]:
    return [key for key in api_keys.all() if by is None or by.covers(key)]


def get_key(api_keys: ApiKeyStore, by: ApiKey | None, key_id: str) -> ApiKey:
    key = api_keys.get(key_id)
    if key is None or (by is not None and not by.covers(key)):
        raise NotFound(f"no personal API key {key_id}")
    return key


def revoke_key(api_keys: ApiKeyStore, by: ApiKey | None, key_id: str) -> ApiKey:
    key = get_key(api_keys, by, key_id)
    if not api_keys.revoke(key.id):
        raise NotFound(f"no personal API key {key_id}")
    return key
