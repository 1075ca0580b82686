"""The private API as an OpenAPI 3.1 document, served at ``GET /api/schema/``.

Every ``/api/`` route is one :class:`Operation` in ``OPERATIONS``: data, not
code. A new route is one more entry (tests/integration/test_api_schema.py
fails until it has one). Request bodies come from the pydantic models the
handlers validate with, where there is one; the other bodies and the answers
are JSON Schema written out below. Reading the document needs no key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.http.api.actions import ActionChanges, NewAction
from magpie.http.api.boards import DashboardChanges, InsightChanges, NewDashboard, NewInsight
from magpie.http.api.cohorts import CohortChanges, NewCohort
from magpie.http.api.common import MAX_API_BODY, json_response
from magpie.http.api.feature_flags import BlastRadiusRequest, FeatureFlagChanges, NewFeatureFlag
from magpie.http.api.projects import ProjectChanges
from magpie.http.api.users import NewUser
from magpie.query.actions import ActionStep
from magpie.query.kinds import KINDS

Schema = dict[str, Any]
# Every query kind's model, named after its kind: a new kind needs no entry here.
QUERY_MODELS: tuple[type[BaseModel], ...] = tuple(model for model, _ in KINDS.values())
MODELS: tuple[type[BaseModel], ...] = (
    *QUERY_MODELS,
    ProjectChanges,
    NewInsight,
    InsightChanges,
    NewDashboard,
    DashboardChanges,
    NewUser,
    NewCohort,
    CohortChanges,
    NewFeatureFlag,
    FeatureFlagChanges,
    BlastRadiusRequest,
    NewAction,
    ActionChanges,
    ActionStep,
)
BIGINT = 2**63 - 1
STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
TIME: Schema = {"type": "string", "format": "date-time"}
OBJECT: Schema = {"type": "object"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def page(item: Schema) -> Schema:
    return obj({"results": {"type": "array", "items": item}, "next": nullable(STRING)})


@dataclass(frozen=True)
class Param:
    name: str
    schema: Schema
    description: str = ""
    where: str = "query"

    def to_json(self) -> Schema:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI's form: {project_id}, no converters
    id: str
    summary: str
    tag: str
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    response: Schema | None = None  # None: some JSON object
    errors: tuple[int, ...] = ()  # beyond those every operation of its kind may answer
    public: bool = False
    status: int = 200  # of a success
    form: Schema | None = None  # the body may also come as multipart/form-data (uploads)

    def statuses(self) -> list[int]:
        found = set(self.errors)
        if not self.public:
            found |= {401, 403, 429}  # no key; a scope it lacks; failed logins throttled
        if self.params or self.body is not None:
            found.add(400)
        if any(p.where == "path" for p in self.params):
            found.add(404)
        if self.body is not None:
            found.add(413)
        return sorted(found)

    def to_json(self) -> Schema:
        spec: Schema = {
            "operationId": self.id,
            "summary": self.summary,
            "tags": [self.tag],
            "parameters": [p.to_json() for p in self.params],
            "responses": {
                str(self.status): self._success(),
                **{str(s): {"$ref": f"#/components/responses/{s}"} for s in self.statuses()},
            },
        }
        if self.body is not None:
            content = _json(self.body)
            if self.form is not None:
                content["multipart/form-data"] = {"schema": self.form}
            spec["requestBody"] = {"required": True, "content": content}
        if self.public:
            spec["security"] = []
        return spec

    def _success(self) -> Schema:
        if self.status == 204:
            return {"description": "Done"}
        return {
            "description": "OK",
            "content": _json(OBJECT if self.response is None else self.response),
        }


def _json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


# -- parameters -------------------------------------------------------------------

PROJECT_ID = Param(
    "project_id",
    {"anyOf": [{"type": "integer", "minimum": 0, "maximum": BIGINT}, {"const": "@current"}]},
    "a project id, or @current: the project of ?token=phc_..., else the key's only project",
    "path",
)
PERSON_UUID = Param("person_uuid", {"type": "string", "format": "uuid"}, "a person's uuid", "path")
KEY_ID = Param("key_id", STRING, "a personal API key's id", "path")
INSIGHT_ID = Param(
    "insight_id", {"type": "integer", "minimum": 0, "maximum": BIGINT}, "an insight's id", "path"
)
ACTION_ID = Param(
    "action_id", {"type": "integer", "minimum": 0, "maximum": BIGINT}, "an action's id", "path"
)
COHORT_ID = Param(
    "cohort_id", {"type": "integer", "minimum": 0, "maximum": BIGINT}, "a cohort's id", "path"
)
DASHBOARD_ID = Param(
    "dashboard_id", {"type": "integer", "minimum": 0, "maximum": BIGINT}, "a dashboard's id", "path"
)
GROUP_TYPE_INDEX: Schema = {"type": "integer", "minimum": 0, "maximum": 4}
GROUP_INDEX = Param("group_type_index", GROUP_TYPE_INDEX, "the group type (required)")
PROPERTY_COUNT: Schema = {
    "type": "object",
    "required": ["name", "count"],
    "properties": {"name": {}, "count": {"type": "integer"}},
}
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})
OFFSET = Param("offset", {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0})
DISTINCT_ID = Param("distinct_id", STRING, "only this distinct id")
COUNT = {"type": "integer", "minimum": 0, "maximum": 10**13, "default": 0}

# -- bodies and answers -------------------------------------------------------------

COHORT_FORM = obj(
    {"csv": {"type": "string", "format": "binary"}},
    {"name": STRING, "description": STRING, "is_static": STRING, "filters": STRING},
)

QUERY_BODY = obj(
    {
        "query": {
            "oneOf": [ref(model.__name__) for model in QUERY_MODELS],
            "discriminator": {"propertyName": "kind"},
        }
    }
)
QUERY_EXAMPLES = [
    {"query": {"kind": "HogQLQuery", "query": "SELECT event, count() FROM events GROUP BY 1"}},
    {
        "query": {
            "kind": "TrendsQuery",
            "series": [{"event": "$pageview", "math": "dau"}, {"event": "$pageview"}],
            "breakdownFilter": {"breakdown": "$browser"},
            "trendsFilter": {"formula": "B/A"},
        }
    },
]
PRICE = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 1_000_000},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$", "maxLength": 40},
    ]
}
TIER = obj(
    {
        "up_to": nullable({"type": "integer", "minimum": 1, "maximum": 10**15}),
        "anonymous": PRICE,
        "identified": PRICE,
    }
)
PRICING = obj(
    {"tiers": {"type": "array", "items": TIER, "minItems": 1}},
    {"currency": {"type": "string", "minLength": 1, "maxLength": 16, "default": "USD"}},
)
QUOTA_LIMITS = obj(
    {
        "max_events": nullable({"type": "integer", "minimum": 0, "maximum": BIGINT}),
        "max_amount": nullable({"type": "number", "minimum": 0}),
    }
)
ANSWERS: dict[str, Schema] = {
    "Error": {
        **obj(
            {
                "type": {
                    "enum": [
                        "validation_error",
                        "authentication_error",
                        "invalid_request",
                        "throttled_error",
                        "server_error",
                    ]
                },
                "code": STRING,
                "detail": STRING,
                "attr": nullable(STRING),
            }
        ),
        "additionalProperties": False,
    },
    "Event": obj(
        {
            "id": STRING,
            "uuid": STRING,
            "event": STRING,
            "distinct_id": STRING,
            "timestamp": TIME,
            "properties": OBJECT,
            "elements_chain": STRING,
            "person_id": STRING,
            "person_mode": STRING,
        }
    ),
    "Person": obj(
        {
            "id": STRING,
            "uuid": STRING,
            "distinct_ids": {"type": "array", "items": STRING},
            "properties": OBJECT,
            "is_identified": {"type": "boolean"},
            "created_at": nullable(TIME),
        },
        {"merge_history": {"type": "array", "items": OBJECT}},
    ),
    "Group": obj(
        {
            "group_type_index": INTEGER,
            "group_key": STRING,
            "group_properties": OBJECT,
            "created_at": TIME,
        }
    ),
    "GroupType": obj(
        {
            "group_type": STRING,
            "group_type_index": INTEGER,
            "name_singular": nullable(STRING),
            "name_plural": nullable(STRING),
        }
    ),
    "IngestionWarning": obj(
        {"type": STRING, "details": OBJECT, "event_uuid": nullable(STRING), "timestamp": TIME}
    ),
    "Project": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "api_token": STRING,
            "timezone": STRING,
            "test_account_filters": {"type": "array", "items": OBJECT},
            "week_start_day": {"enum": [0, 1]},
            "path_cleaning_filters": {"type": "array", "items": OBJECT},
        }
    ),
    "PersonalApiKey": obj(
        {
            "id": STRING,
            "label": STRING,
            "value": nullable(STRING),
            "mask_value": STRING,
            "scopes": {"type": "array", "items": STRING},
            "scoped_teams": {"type": "array", "items": INTEGER},
            "created_at": TIME,
            "last_used_at": nullable(TIME),
        }
    ),
    "Insight": obj(
        {
            "id": INTEGER,
            "short_id": STRING,
            "name": STRING,
            "description": STRING,
            "query": OBJECT,
            "dashboards": {"type": "array", "items": INTEGER},
            "created_at": TIME,
            "last_modified_at": TIME,
        }
    ),
    "Dashboard": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "description": STRING,
            "filters": OBJECT,
            "created_at": TIME,
        },
        {
            "tiles": {
                "type": "array",
                "items": obj({"id": INTEGER, "insight": ref("Insight")}),
            }
        },
    ),
    "User": obj({"id": INTEGER, "email": STRING, "created_at": TIME}),
    "Cohort": obj(
        {
            "id": INTEGER,
            "name": STRING,
            "description": STRING,
            "filters": OBJECT,
            "groups": {"type": "array"},
            "query": {"type": "null"},
            "is_static": {"type": "boolean"},
            "cohort_type": {"enum": ["static", "person_property", "behavioral"]},
            "count": nullable(INTEGER),
            "version": INTEGER,
            "is_calculating": {"type": "boolean"},
            "last_calculation": nullable(TIME),
            "errors_calculating": INTEGER,
            "last_error": nullable(STRING),
            "deleted": {"type": "boolean"},
            "created_by": {"type": "null"},
            "created_at": TIME,
        }
    ),
    "Action": obj(
        {
            "id": INTEGER,
            "team_id": INTEGER,
            "name": STRING,
            "description": STRING,
            "tags": {"type": "array", "items": STRING},
            "steps": {"type": "array", "items": ref("ActionStep")},
            "created_at": TIME,
            "updated_at": TIME,
            "created_by": {"type": "null"},
            "deleted": {"type": "boolean"},
            "is_calculating": {"type": "boolean"},
            "last_calculated_at": nullable(TIME),
            "post_to_slack": {"type": "boolean"},
            "slack_message_format": STRING,
            "is_action": {"type": "boolean"},
            "bytecode_error": {"type": "null"},
            "pinned_at": {"type": "null"},
        }
    ),
    "QueryResult": obj(
        {"results": {"type": "array"}},
        {"columns": {"type": "array"}, "types": {"type": "array"}, "hogql": STRING},
    ),
    # Prices come back as decimal strings, exactly as stored ("0.00005", "5E-7").
    "Pricing": obj(
        {
            "currency": STRING,
            "tiers": {
                "type": "array",
                "items": obj(
                    {"up_to": nullable(INTEGER), "anonymous": STRING, "identified": STRING}
                ),
            },
        }
    ),
    "Quota": obj(
        {"max_events": nullable(INTEGER), "max_amount": nullable(NUMBER)},
        {"limited": {"type": "boolean"}},
    ),
    "Usage": obj(
        {"period": STRING, "events": OBJECT, "by_day": {"type": "array"}, "cost": OBJECT},
        {"by_lib": {"type": "array"}, "projected": OBJECT, "quota": OBJECT},
    ),
    "Quote": obj(
        {"anonymous": INTEGER, "identified": INTEGER, "currency": STRING, "total": NUMBER}
    ),
}
# Where a model says only "a string", say which strings: readers learn the forms
# accepted, and the fuzzer reaches past the first check.
DATE_POINT = {
    "anyOf": [
        {"type": "string", "pattern": r"^-[0-9]{1,6}[hdwmqy](Start)?$"},
        {"enum": ["all", "dStart", "mStart", "yStart", "-1mStart"]},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "null"},
    ]
}
REFINED: dict[str, dict[str, Schema]] = {
    "DateRange": {"date_from": DATE_POINT, "date_to": DATE_POINT},
    "TrendsFilter": {
        "formula": nullable({"type": "string", "pattern": r"^[A-Ea-e0-9+\-*/%(). ]*$"})
    },
}
EXAMPLES: dict[str, list[Schema]] = {
    "HogQLQuery": [
        {
            "kind": "HogQLQuery",
            "query": "SELECT properties.$browser, count() FROM events WHERE event = {event} "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
            "values": {"event": "$pageview"},
        },
        {
            "kind": "HogQLQuery",
            "query": "SELECT person.properties.email, toStartOfDay(timestamp) AS day, "
            "uniq(distinct_id) FROM events GROUP BY 1, 2",
        },
    ],
    "TrendsQuery": [
        {
            "kind": "TrendsQuery",
            "series": [{"event": "purchase", "math": "sum", "math_property": "amount"}],
            "interval": "week",
            "dateRange": {"date_from": "-30d"},
            "compareFilter": {"compare": True},
        }
    ],
}


def _components(definitions: dict[str, Schema]) -> dict[str, Schema]:
    out = {name: dict(schema) for name, schema in definitions.items()}
    for name, fields in REFINED.items():
        out[name]["properties"] = {**out[name]["properties"], **fields}
    for name, examples in EXAMPLES.items():
        out[name]["examples"] = examples
    return out


ERRORS = {
    400: "The request is invalid (see code, detail and attr)",
    401: "No valid personal API key",
    403: "The key lacks the scope this needs, or reaches only some projects",
    429: "Too many failed authentications from this address (see Retry-After)",
    404: "No such project, person, insight, dashboard, cohort or path",
    408: "The query ran too long",
    413: "The body is too large",
}

FLAG_ID = Param(
    "flag_id", {"type": "integer", "minimum": 0, "maximum": BIGINT}, "a feature flag's id", "path"
)
ANSWERS["FeatureFlag"] = obj(
    {
        "id": INTEGER,
        "key": STRING,
        "name": STRING,
        "filters": OBJECT,
        "active": {"type": "boolean"},
        "deleted": {"type": "boolean"},
        "ensure_experience_continuity": {"type": "boolean"},
        "is_remote_configuration": {"type": "boolean"},
        "version": INTEGER,
        "created_at": TIME,
        "updated_at": TIME,
        "created_by": nullable(OBJECT),
    },
    {"is_simple_flag": {"type": "boolean"}, "rollout_percentage": nullable(NUMBER)},
)
ANSWERS["FeatureFlagVersion"] = obj(
    {"version": INTEGER, "changed_at": TIME, "changed_by": nullable(STRING), "state": OBJECT}
)
FLAG_OPERATIONS = [
    Operation(
        "get",
        "/api/feature_flag/local_evaluation/",
        "feature_flag_local_evaluation",
        "Flag definitions for server SDKs' local evaluation (also at /flags/definitions);"
        " ETag, and 304 for If-None-Match",
        "feature_flags",
        (
            Param("token", STRING, "the project's token (phc_...)"),
            Param("send_cohorts", STRING, "accepted; cohorts are always sent"),
        ),
        response=obj(
            {
                "flags": {"type": "array", "items": OBJECT},
                "group_type_mapping": OBJECT,
                "cohorts": OBJECT,
            }
        ),
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/feature_flags/",
        "feature_flags_list",
        "The project's feature flags, newest first",
        "feature_flags",
        (
            PROJECT_ID,
            Param("active", {"enum": ["true", "false"]}, "only active or inactive flags"),
            Param("search", STRING, "in keys and names"),
            LIMIT,
            OFFSET,
        ),
        response={
            **page(ref("FeatureFlag")),
            "properties": {**page(ref("FeatureFlag"))["properties"], "count": INTEGER},
        },
    ),
    Operation(
        "post",
        "/api/projects/{project_id}/feature_flags/",
        "feature_flags_create",
        "Create a feature flag (filters as PostHog's; see docs/flags.md)",
        "feature_flags",
        (PROJECT_ID,),
        body=ref("NewFeatureFlag"),
        response=ref("FeatureFlag"),
        status=201,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/feature_flags/{flag_id}/",
        "feature_flags_retrieve",
        "One feature flag",
        "feature_flags",
        (PROJECT_ID, FLAG_ID),
        response=ref("FeatureFlag"),
    ),
    Operation(
        "patch",
        "/api/projects/{project_id}/feature_flags/{flag_id}/",
        "feature_flags_partial_update",
        "Change a feature flag (a new version); deleted: true deletes it",
        "feature_flags",
        (PROJECT_ID, FLAG_ID),
        body=ref("FeatureFlagChanges"),
        response=ref("FeatureFlag"),
    ),
    Operation(
        "delete",
        "/api/projects/{project_id}/feature_flags/{flag_id}/",
        "feature_flags_destroy",
        "Delete a feature flag (soft: its versions stay, its key is free)",
        "feature_flags",
        (PROJECT_ID, FLAG_ID),
        status=204,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/feature_flags/{flag_id}/usage/",
        "feature_flags_usage",
        "How often SDKs read the flag, by value ($feature_flag_called events)",
        "feature_flags",
        (
            PROJECT_ID,
            FLAG_ID,
            Param("days", {"type": "integer", "minimum": 1, "maximum": 3650, "default": 30}),
        ),
        response=obj(
            {
                "flag_key": STRING,
                "date_from": TIME,
                "date_to": TIME,
                "total_calls": INTEGER,
                "results": {
                    "type": "array",
                    "items": obj(
                        {"value": nullable(STRING), "calls": INTEGER, "distinct_ids": INTEGER}
                    ),
                },
            }
        ),
        errors=(408,),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/feature_flags/{flag_id}/versions/",
        "feature_flags_versions",
        "Every change to a flag: who, when, and the flag after it; newest first",
        "feature_flags",
        (PROJECT_ID, FLAG_ID),
        response=page(ref("FeatureFlagVersion")),
    ),
    *[
        Operation(
            "get",
            f"/api/projects/{{project_id}}/feature_flags/{{flag_id}}/remote_config{slash}",
            f"feature_flags_remote_config{suffix}",
            'A remote-config flag\'s payload (its "true" payload) as JSON; null when it has'
            " none or is off (posthog-python's get_remote_config_payload)",
            "feature_flags",
            (
                PROJECT_ID,
                Param("flag_id", STRING, "the flag's key, or its id", "path"),
                Param("token", STRING, "the project's token (phc_...), for @current"),
            ),
            response={},  # any JSON value: the payload itself
        )
        for slash, suffix in (("", ""), ("/", "_slash"))
    ],
    *[
        Operation(
            "post",
            f"/api/projects/{{project_id}}/feature_flags/user_blast_radius{slash}",
            f"feature_flags_user_blast_radius{suffix}",
            "How many stored persons (or groups of group_type_index) a release condition's"
            " properties match, of how many; the rollout percentage is not applied",
            "feature_flags",
            (PROJECT_ID,),
            body=ref("BlastRadiusRequest"),
            response=obj({"users_affected": INTEGER, "total_users": INTEGER}),
            errors=(408,),
        )
        for slash, suffix in (("", ""), ("/", "_slash"))
    ],
]

OPERATIONS: list[Operation] = [
    Operation("get", "/api/schema/", "schema", "This document", "schema", public=True),
    Operation(
        "get",
        "/api/projects/",
        "projects_list",
        "The projects",
        "projects",
        response=page(ref("Project")),
    ),
    Operation(
        "post",
        "/api/projects/",
        "projects_create",
        "Create a project (its api_token is the token SDKs send)",
        "projects",
        body=obj({"name": STRING}, {"timezone": STRING}),
        response=ref("Project"),
        status=201,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/",
        "projects_retrieve",
        "One project",
        "projects",
        (PROJECT_ID,),
        response=ref("Project"),
    ),
    Operation(
        "patch",
        "/api/projects/{project_id}/",
        "projects_partial_update",
        "Change a project's name, time zone, test account filters or week start",
        "projects",
        (PROJECT_ID,),
        body=ref("ProjectChanges"),
        response=ref("Project"),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/events/",
        "events_list",
        "Recent events, newest first",
        "events",
        (
            PROJECT_ID,
            DISTINCT_ID,
            Param("person_id", {"type": "string", "format": "uuid"}, "events of this person"),
            Param("event", STRING, "only this event name"),
            Param("after", TIME, "events after this time (ISO 8601; no zone means UTC)"),
            Param("before", TIME, "events before this time"),
            Param(
                "property",
                {"type": "string", "maxLength": 1000},
                "only events with this property set",
            ),
            Param(
                "property_value",
                {"type": "string", "maxLength": 1000},
                "with property: only events where it equals this (as text)",
            ),
            Param(
                "group_type_index",
                GROUP_TYPE_INDEX,
                "with group_key: the events of one group of this type",
            ),
            Param("group_key", {"type": "string", "maxLength": 1000}, "one group's events"),
            LIMIT,
            OFFSET,
        ),
        response=page(ref("Event")),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/persons/",
        "persons_list",
        "Persons (identified users only)",
        "persons",
        (PROJECT_ID, DISTINCT_ID, Param("search", STRING, "in properties and ids"), LIMIT, OFFSET),
        response=page(ref("Person")),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/persons/{person_uuid}/",
        "persons_retrieve",
        "One person, with its distinct ids and merge history",
        "persons",
        (PROJECT_ID, PERSON_UUID),
        response=ref("Person"),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/groups_types/",
        "groups_types_list",
        "The project's group types, by index",
        "groups",
        (PROJECT_ID,),
        response={"type": "array", "items": ref("GroupType")},
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/groups/",
        "groups_list",
        "Groups of one type, newest first",
        "groups",
        (
            PROJECT_ID,
            GROUP_INDEX,
            Param("search", {"type": "string", "maxLength": 1000}, "in the key and properties"),
            Param("group_key", {"type": "string", "maxLength": 1000}, "keys containing this"),
            LIMIT,
            OFFSET,
        ),
        response=obj(
            {
                "results": {"type": "array", "items": ref("Group")},
                "next": nullable(STRING),
                "previous": {"type": "null"},
            }
        ),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/groups/find/",
        "groups_find",
        "One group, by type and key",
        "groups",
        (PROJECT_ID, GROUP_INDEX, Param("group_key", STRING, "the group's key (required)")),
        response=ref("Group"),
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/groups/property_definitions/",
        "groups_property_definitions",
        "Per group type, the property names groups have and how many have each",
        "groups",
        (PROJECT_ID,),
        response={
            "type": "object",
            "additionalProperties": {"type": "array", "items": PROPERTY_COUNT},
        },
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/groups/property_values/",
        "groups_property_values",
        "The commonest values of one group property",
        "groups",
        (
            PROJECT_ID,
            GROUP_INDEX,
            Param("key", {"type": "string", "maxLength": 1000}, "the property (required)"),
            Param("value", {"type": "string", "maxLength": 1000}, "values containing this"),
        ),
        response=obj(
            {
                "results": {"type": "array", "items": PROPERTY_COUNT},
                "refreshing": {"type": "boolean"},
            }
        ),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/ingestion_warnings/",
        "ingestion_warnings_list",
        "Events ingested with a warning",
        "persons",
        (PROJECT_ID, Param("type", STRING, "only this warning type"), LIMIT, OFFSET),
        response=page(ref("IngestionWarning")),
    ),
    Operation(
        "post",
        "/api/projects/{project_id}/query/",
        "query",
        "Run a query: HogQL SQL or a trend (see docs/querying.md)",
        "query",
        (PROJECT_ID,),
        body={**QUERY_BODY, "examples": QUERY_EXAMPLES},
        response=ref("QueryResult"),
        errors=(408,),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/billing/usage/",
        "billing_usage",
        "A month's billable events, anonymous and identified, and their cost",
        "billing",
        (PROJECT_ID, Param("period", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "YYYY-MM")),
        response=ref("Usage"),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/billing/quota/",
        "billing_quota_retrieve",
        "The project's monthly quota",
        "billing",
        (PROJECT_ID,),
        response=ref("Quota"),
    ),
    Operation(
        "put",
        "/api/projects/{project_id}/billing/quota/",
        "billing_quota_update",
        "Set the project's monthly quota (null: no limit)",
        "billing",
        (PROJECT_ID,),
        body=QUOTA_LIMITS,
        response=ref("Quota"),
    ),
    Operation(
        "get",
        "/api/billing/quote/",
        "billing_quote",
        "What a month of this many events would cost",
        "billing",
        (Param("anonymous", COUNT), Param("identified", COUNT)),
        response=ref("Quote"),
    ),
    Operation(
        "get",
        "/api/billing/pricing/",
        "billing_pricing_retrieve",
        "The price list",
        "billing",
        response=ref("Pricing"),
    ),
    Operation(
        "put",
        "/api/billing/pricing/",
        "billing_pricing_update",
        "Replace the price list",
        "billing",
        body=PRICING,
        response=ref("Pricing"),
    ),
    Operation(
        "get",
        "/api/personal_api_keys/",
        "personal_api_keys_list",
        "The keys this key may see (no values)",
        "personal_api_keys",
        response={"type": "array", "items": ref("PersonalApiKey")},
    ),
    Operation(
        "post",
        "/api/personal_api_keys/",
        "personal_api_keys_create",
        "Create a key; its value is in the answer, this once",
        "personal_api_keys",
        body=obj(
            {"label": STRING, "scopes": {"type": "array", "items": STRING}},
            {"scoped_teams": nullable({"type": "array", "items": INTEGER})},
        ),
        response=ref("PersonalApiKey"),
        status=201,
    ),
    Operation(
        "get",
        "/api/personal_api_keys/{key_id}/",
        "personal_api_keys_retrieve",
        "One key (no value)",
        "personal_api_keys",
        (KEY_ID,),
        response=ref("PersonalApiKey"),
    ),
    Operation(
        "delete",
        "/api/personal_api_keys/{key_id}/",
        "personal_api_keys_destroy",
        "Revoke a key: it stops working at once",
        "personal_api_keys",
        (KEY_ID,),
        status=204,
    ),
    *[
        Operation(
            method,
            f"/api/projects/{{project_id}}/{plural}/",
            f"{plural}_{verb}",
            summary,
            plural,
            (PROJECT_ID,) if method == "post" else (PROJECT_ID, *params),
            body=ref(model) if method == "post" else None,
            response=ref(thing) if method == "post" else page(ref(thing)),
            status=201 if method == "post" else 200,
        )
        for plural, thing, model, params in (
            ("insights", "Insight", "NewInsight", (Param("short_id", STRING), LIMIT, OFFSET)),
            ("dashboards", "Dashboard", "NewDashboard", ()),
        )
        for method, verb, summary in (
            ("get", "list", f"The project's {plural}"),
            ("post", "create", f"Save a new {thing.lower()}"),
        )
    ],
    *[
        Operation(
            method,
            f"/api/projects/{{project_id}}/{plural}/{{{param.name}}}/",
            f"{plural}_{verb}",
            summary,
            plural,
            (PROJECT_ID, param),
            body=ref(changes) if method == "patch" else None,
            response=None if method == "delete" else ref(thing),
            status=204 if method == "delete" else 200,
        )
        for plural, thing, changes, param in (
            ("insights", "Insight", "InsightChanges", INSIGHT_ID),
            ("dashboards", "Dashboard", "DashboardChanges", DASHBOARD_ID),
        )
        for method, verb, summary in (
            ("get", "retrieve", f"One {thing.lower()}"),
            ("patch", "partial_update", f"Change a {thing.lower()}"),
            ("delete", "destroy", f"Delete a {thing.lower()}"),
        )
    ],
    Operation(
        "get",
        "/api/projects/{project_id}/actions/",
        "actions_list",
        "The project's actions (not deleted), newest first",
        "actions",
        (PROJECT_ID, LIMIT, OFFSET),
        response=page(ref("Action")),
    ),
    Operation(
        "post",
        "/api/projects/{project_id}/actions/",
        "actions_create",
        "Save an action: events matching any of its steps (steps with a CSS selector outside"
        " the subset matched, or a regex on an element's text or href, are refused:"
        " invalid_action_steps)",
        "actions",
        (PROJECT_ID,),
        body=ref("NewAction"),
        response=ref("Action"),
        status=201,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/actions/{action_id}/",
        "actions_retrieve",
        "One action",
        "actions",
        (PROJECT_ID, ACTION_ID),
        response=ref("Action"),
    ),
    Operation(
        "patch",
        "/api/projects/{project_id}/actions/{action_id}/",
        "actions_partial_update",
        "Change an action (deleted: true deletes it)",
        "actions",
        (PROJECT_ID, ACTION_ID),
        body=ref("ActionChanges"),
        response=ref("Action"),
    ),
    Operation(
        "delete",
        "/api/projects/{project_id}/actions/{action_id}/",
        "actions_destroy",
        "Delete an action (it is kept, marked deleted; queries naming it are refused)",
        "actions",
        (PROJECT_ID, ACTION_ID),
        status=204,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/cohorts/",
        "cohorts_list",
        "The project's cohorts (not deleted), newest first",
        "cohorts",
        (PROJECT_ID, LIMIT, OFFSET),
        response=page(ref("Cohort")),
    ),
    Operation(
        "post",
        "/api/projects/{project_id}/cohorts/",
        "cohorts_create",
        "Save a cohort: computed from filters (at once), or static from distinct ids"
        " (a JSON list, or a one-column CSV file as the multipart field csv)",
        "cohorts",
        (PROJECT_ID,),
        body=ref("NewCohort"),
        form=COHORT_FORM,
        response=ref("Cohort"),
        status=201,
        errors=(408,),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/cohorts/{cohort_id}/",
        "cohorts_retrieve",
        "One cohort",
        "cohorts",
        (PROJECT_ID, COHORT_ID),
        response=ref("Cohort"),
    ),
    Operation(
        "patch",
        "/api/projects/{project_id}/cohorts/{cohort_id}/",
        "cohorts_partial_update",
        "Change a cohort (new filters are computed at once; distinct ids or a csv add"
        " to a static cohort; deleted: true deletes it)",
        "cohorts",
        (PROJECT_ID, COHORT_ID),
        body=ref("CohortChanges"),
        form=COHORT_FORM,
        response=ref("Cohort"),
        errors=(408,),
    ),
    Operation(
        "delete",
        "/api/projects/{project_id}/cohorts/{cohort_id}/",
        "cohorts_destroy",
        "Delete a cohort (it is kept, marked deleted)",
        "cohorts",
        (PROJECT_ID, COHORT_ID),
        status=204,
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/cohorts/{cohort_id}/persons/",
        "cohorts_persons",
        "The cohort's members as of its last calculation",
        "cohorts",
        (PROJECT_ID, COHORT_ID, LIMIT, OFFSET),
        response=page(ref("Person")),
    ),
    Operation(
        "get",
        "/api/projects/{project_id}/cohorts/{cohort_id}/history/",
        "cohorts_history",
        "The cohort's count at each stored membership (each calculation), newest first",
        "cohorts",
        (PROJECT_ID, COHORT_ID, LIMIT, OFFSET),
        response=page(obj({"version": INTEGER, "count": INTEGER, "calculated_at": TIME})),
    ),
    Operation(
        "post",
        "/api/projects/{project_id}/cohorts/{cohort_id}/recalculate/",
        "cohorts_recalculate",
        "Compute a cohort's membership now",
        "cohorts",
        (PROJECT_ID, COHORT_ID),
        response=ref("Cohort"),
        errors=(408,),
    ),
    Operation(
        "get",
        "/api/users/",
        "users_list",
        "The web UI's users (never their passwords)",
        "users",
        response=page(ref("User")),
    ),
    Operation(
        "post",
        "/api/users/",
        "users_create",
        "Add a web UI user",
        "users",
        body=ref("NewUser"),
        response=ref("User"),
        status=201,
    ),
    Operation(
        "get",
        "/api/ingestion/status/",
        "ingestion_status",
        "The ingest worker's progress through the queue",
        "ingestion",
    ),
    *FLAG_OPERATIONS,
]


@cache
def openapi_document() -> Schema:
    _, definitions = models_json_schema(
        [(model, "validation") for model in MODELS], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, Schema] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = operation.to_json()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Magpie private API",
            "version": "1",
            "description": "PostHog-shaped REST API. Errors are "
            '{"type", "code", "detail", "attr"}; request bodies are JSON of at most '
            f"{MAX_API_BODY // (1024 * 1024)} MiB.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_components(definitions["$defs"]), **ANSWERS},
            "responses": {
                str(status): {"description": text, "content": _json(ref("Error"))}
                for status, text in ERRORS.items()
            },
            "securitySchemes": {
                "personalApiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a personal API key: Authorization: Bearer phx_...",
                }
            },
        },
        "security": [{"personalApiKey": []}],
    }


def schema_routes() -> list[Route]:
    async def schema(request: Request) -> Response:
        return json_response(openapi_document())

    return [Route("/api/schema/", schema, methods=["GET"])]
