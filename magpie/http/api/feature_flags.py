"""``/api/projects/{id}/feature_flags/`` in PostHog's shape: a flag has ``key``,
``name``, ``filters`` (condition groups, variants, payloads …), ``active``,
``ensure_experience_continuity`` and ``version``; deleting one is a soft delete
(PATCH ``{"deleted": true}`` or DELETE), and every change is kept as a version."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.clock import Clock
from magpie.errors import FlagKeyTaken, InvalidInput, NotFound
from magpie.flags.blast_radius import blast_radius
from magpie.flags.cohorts import CohortMembership
from magpie.flags.definitions import FlagDefinitions
from magpie.flags.filters import KEY_PATTERN, check_filters, check_key
from magpie.flags.remote_config import remote_config_payload
from magpie.flags.usage import flag_usage
from magpie.http.api.common import (
    ApiContext,
    SessionKey,
    api_endpoint,
    int_param,
    json_response,
    next_page,
    parse_body,
    utc_text,
)
from magpie.query.runner import QueryRunner
from magpie.store.base import FeatureFlagStore
from magpie.store.model import FeatureFlag, FlagVersion

MAX_NAME = 4000
MAX_LIMIT = 1000


class NewFeatureFlag(BaseModel):
    model_config = ConfigDict(
        extra="ignore"
    )  # PostHog clients send more (tags, evaluation_runtime …)
    key: StrictStr = Field(max_length=400)
    name: StrictStr = Field(default="", max_length=MAX_NAME)
    filters: dict[str, Any] = Field(default_factory=lambda: {"groups": []})
    active: StrictBool = True
    ensure_experience_continuity: StrictBool = False
    is_remote_configuration: StrictBool = False


class FeatureFlagChanges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: StrictStr | None = Field(default=None, max_length=400)
    name: StrictStr | None = Field(default=None, max_length=MAX_NAME)
    filters: dict[str, Any] | None = None
    active: StrictBool | None = None
    ensure_experience_continuity: StrictBool | None = None
    is_remote_configuration: StrictBool | None = None
    deleted: StrictBool | None = None


class BlastRadiusRequest(BaseModel):
    """PostHog's body: one release condition and the group type it aggregates by."""

    model_config = ConfigDict(extra="ignore")
    condition: dict[str, Any]
    group_type_index: int | None = Field(default=None, ge=0, le=4, strict=True)


def is_simple(flag: FeatureFlag) -> bool:
    """PostHog's "simple flag": one condition set without properties, for persons."""
    groups = flag.filters.get("groups") or []
    return (
        len(groups) == 1
        and not groups[0].get("properties")
        and flag.filters.get("aggregation_group_type_index") is None
    )


def public_flag(flag: FeatureFlag) -> dict[str, Any]:
    simple = is_simple(flag)
    return {
        "id": flag.id,
        "team_id": flag.project_id,
        "key": flag.key,
        "name": flag.name,
        "filters": flag.filters,
        "active": flag.active,
        "deleted": flag.deleted,
        "ensure_experience_continuity": flag.ensure_experience_continuity,
        "is_remote_configuration": flag.is_remote_configuration,
        "version": flag.version,
        "created_at": utc_text(flag.created_at),
        "updated_at": utc_text(flag.updated_at),
        "created_by": None if flag.created_by is None else {"email": flag.created_by},
        "is_simple_flag": simple,
        "rollout_percentage": (
            flag.filters["groups"][0].get("rollout_percentage") if simple else None
        ),
        "evaluation_runtime": "all",
        "tags": [],
        "experiment_set": [],
        "surveys": [],
        "features": [],
    }


def public_version(version: FlagVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "changed_at": utc_text(version.changed_at),
        "changed_by": version.changed_by,
        "state": version.state,
    }


def author(context: ApiContext, request: Request) -> str:
    """Who made a change, as versions record it: the user, or the key's label."""
    key = context.key(request)
    if isinstance(key, SessionKey) and key.logged_in is not None:
        return key.logged_in.user.email
    return f"personal API key {key.label!r}"


def feature_flag_routes(
    context: ApiContext,
    store: FeatureFlagStore,
    definitions: FlagDefinitions,
    runner: QueryRunner,
    clock: Clock,
    cohorts: CohortMembership,
) -> list[Route]:
    def project_flags(project_id: int) -> dict[int, FeatureFlag]:
        return {f.id: f for f in store.list(project_id)}

    def flag_list(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "POST":
            new = parse_body(NewFeatureFlag, body)
            filters = check_filters(new.filters, None, project_flags(project.id))
            try:
                created = store.create(
                    project.id,
                    check_key(new.key),
                    name=new.name,
                    filters=filters,
                    active=new.active,
                    ensure_experience_continuity=new.ensure_experience_continuity,
                    is_remote_configuration=new.is_remote_configuration,
                    changed_by=author(context, request),
                )
            except ValueError as exc:
                raise FlagKeyTaken(str(exc), attr="key") from None
            definitions.invalidate(project.id)
            return json_response(public_flag(created), 201)
        limit = int_param(request, "limit", 100, low=1, high=MAX_LIMIT)
        offset = int_param(request, "offset", 0, low=0, high=10**9)
        found = store.list(project.id)
        active = request.query_params.get("active")
        if active in ("true", "false"):
            found = [f for f in found if f.active is (active == "true")]
        search = (request.query_params.get("search") or "").lower()
        if search:
            found = [f for f in found if search in f.key.lower() or search in f.name.lower()]
        shown = list(reversed(found))[offset : offset + limit]  # newest first, as PostHog
        return json_response(
            {
                "count": len(found),
                "results": [public_flag(f) for f in shown],
                "next": next_page(request, len(shown), limit, offset),
            }
        )

    def live(project_id: int, flag_id: int) -> FeatureFlag:
        found = store.get(project_id, flag_id)
        if found is None or found.deleted:
            raise NotFound(f"no feature flag {flag_id}")
        return found

    def by_key_or_id(project_id: int, key_or_id: str) -> FeatureFlag:
        """A live flag named by its key, or else by its id (keys may be all digits,
        so a key that exists wins over an id)."""
        if KEY_PATTERN.match(key_or_id):
            for found in store.list(project_id):
                if found.key == key_or_id:
                    return found
            if key_or_id.isdigit() and int(key_or_id) < 2**63:  # a BIGINT id
                return live(project_id, int(key_or_id))
        raise NotFound(f"no feature flag {key_or_id[:400]!r}")

    def remote_config(request: Request, body: Any) -> Response:
        """The flag's configuration (its "true" payload) as JSON; null when none."""
        project = context.project(request)
        flag = by_key_or_id(project.id, request.path_params["flag_id"])
        return json_response(remote_config_payload(flag))

    def flag(request: Request, body: Any) -> Response:
        project = context.project(request)
        flag_id = request.path_params["flag_id"]
        current = live(project.id, flag_id)
        if request.method == "DELETE":
            store.delete(project.id, flag_id, author(context, request))
            definitions.invalidate(project.id)
            return Response(status_code=204)
        if request.method == "PATCH":
            current = change(request, project.id, current, parse_body(FeatureFlagChanges, body))
        return json_response(public_flag(current))

    def change(
        request: Request, project_id: int, current: FeatureFlag, changes: FeatureFlagChanges
    ) -> FeatureFlag:
        who = author(context, request)
        values = changes.model_dump(exclude_none=True, exclude={"deleted"})
        if "key" in values:
            check_key(values["key"])
        if "filters" in values:
            values["filters"] = check_filters(
                values["filters"], current.id, project_flags(project_id)
            )
        updated = current
        if values:
            try:
                found = store.update(project_id, current.id, who, **values)
            except ValueError as exc:
                raise FlagKeyTaken(str(exc), attr="key") from None
            updated = found or current
        if changes.deleted:
            store.delete(project_id, current.id, who)
            updated = store.get(project_id, current.id) or updated
        elif changes.deleted is False and current.deleted:
            raise InvalidInput("a deleted flag stays deleted; create a new one", attr="deleted")
        definitions.invalidate(project_id)
        return updated

    def versions(request: Request, body: Any) -> Response:
        project = context.project(request)
        flag_id = request.path_params["flag_id"]
        live(project.id, flag_id)
        found = store.versions(project.id, flag_id)
        return json_response(
            {"results": [public_version(v) for v in reversed(found)], "next": None}
        )

    def usage(request: Request, body: Any) -> Response:
        """How often SDKs read the flag, by value, from its $feature_flag_called events."""
        project = context.project(request)
        flag = live(project.id, request.path_params["flag_id"])
        days = int_param(request, "days", 30, low=1, high=3650)
        until = clock.now().astimezone(UTC).replace(tzinfo=None)
        since = until - timedelta(days=days)
        rows = flag_usage(runner, project.id, flag.key, since, until + timedelta(minutes=5))
        return json_response(
            {
                "flag_key": flag.key,
                "date_from": utc_text(since),
                "date_to": utc_text(until),
                "total_calls": sum(r.calls for r in rows),
                "results": [
                    {"value": r.response, "calls": r.calls, "distinct_ids": r.distinct_ids}
                    for r in rows
                ],
            }
        )

    def user_blast_radius(request: Request, body: Any) -> Response:
        """How many stored persons (or groups) a condition's properties reach, of all."""
        project = context.project(request)
        asked = parse_body(BlastRadiusRequest, body)
        found = blast_radius(
            runner,
            project.id,
            store.list(project.id),
            cohorts,
            asked.condition,
            asked.group_type_index,
            clock.now(),
        )
        return json_response({"users_affected": found.affected, "total_users": found.total})

    base = "/api/projects/{project_id:project}/feature_flags"
    return [
        Route(
            f"{base}/",
            api_endpoint(context, flag_list, scope="feature_flag"),
            methods=["GET", "POST"],
        ),
        Route(
            f"{base}/user_blast_radius",
            api_endpoint(context, user_blast_radius, scope="feature_flag:read"),
            methods=["POST"],
        ),
        Route(
            f"{base}/user_blast_radius/",
            api_endpoint(context, user_blast_radius, scope="feature_flag:read"),
            methods=["POST"],
        ),
        Route(
            f"{base}/{{flag_id:int}}/",
            api_endpoint(context, flag, scope="feature_flag"),
            methods=["GET", "PATCH", "DELETE"],
        ),
        # posthog-python asks without the trailing slash.
        *[
            Route(
                f"{base}/{{flag_id}}/remote_config{slash}",
                api_endpoint(context, remote_config, scope="feature_flag:read"),
                methods=["GET"],
            )
            for slash in ("", "/")
        ],
        Route(
            f"{base}/{{flag_id:int}}/usage/",
            api_endpoint(context, usage, scope="feature_flag"),
            methods=["GET"],
        ),
        Route(
            f"{base}/{{flag_id:int}}/versions/",
            api_endpoint(context, versions, scope="feature_flag"),
            methods=["GET"],
        ),
    ]
