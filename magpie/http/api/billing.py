"""Billing API: usage per month, quotes, quotas and the price list."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.billing.meter import Period
from magpie.billing.service import BillingService
from magpie.errors import InvalidInput
from magpie.http.api.common import ApiContext, api_endpoint, int_param, json_response
from magpie.store.model import QuotaLimits

MAX_EVENTS = 2**63 - 1  # the store's BIGINT


def billing_routes(context: ApiContext, billing: BillingService) -> list[Route]:
    def usage(request: Request, body: Any) -> Response:
        project = context.project(request)
        raw = request.query_params.get("period")
        period = Period.parse(raw) if raw else Period.containing(billing.now())
        return json_response(billing.report(project.id, period))

    def quote(request: Request, body: Any) -> Response:
        anonymous = int_param(request, "anonymous", 0, low=0, high=10**13)
        identified = int_param(request, "identified", 0, low=0, high=10**13)
        return json_response(billing.quote(anonymous, identified).to_json())

    def quota(request: Request, body: Any) -> Response:
        project = context.project(request)
        if request.method == "PUT":
            billing.set_quota_limits(project.id, _limits(body))
        limits = billing.quota_limits(project.id)
        return json_response(
            {
                "max_events": limits.max_events,
                "max_amount": limits.max_amount,
                "limited": billing.quota_gate.is_limited(project.id),
            }
        )

    def pricing(request: Request, body: Any) -> Response:
        if request.method == "PUT":
            return json_response(billing.set_pricing(body).to_json())
        return json_response(billing.pricing().to_json())

    base = "/api/projects/{project_id:project}/billing"
    return [
        Route(f"{base}/usage/", api_endpoint(context, usage, scope="billing:read")),
        Route(
            f"{base}/quota/", api_endpoint(context, quota, scope="billing"), methods=["GET", "PUT"]
        ),
        Route("/api/billing/quote/", api_endpoint(context, quote, scope="billing:read")),
        Route(
            "/api/billing/pricing/",
            api_endpoint(context, pricing, scope="billing", server_wide=True),
            methods=["GET", "PUT"],
        ),
    ]


def _limits(body: Any) -> QuotaLimits:
    if not isinstance(body, dict):
        raise InvalidInput('send {"max_events": N or null, "max_amount": X or null}')
    events, amount = body.get("max_events"), body.get("max_amount")
    if events is not None and (
        isinstance(events, bool) or not isinstance(events, int) or not 0 <= events <= MAX_EVENTS
    ):
        raise InvalidInput(
            f"max_events must be a whole number from 0 to {MAX_EVENTS} or null", attr="max_events"
        )
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise InvalidInput("max_amount must be a number or null", attr="max_amount")
    return QuotaLimits(events, None if amount is None else float(amount))
