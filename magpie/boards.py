"""Saved insights and dashboards: short ids, and each project's first dashboard."""

from __future__ import annotations

import secrets
import string
from typing import Any

from magpie.store.base import DashboardStore, InsightStore
from magpie.store.model import Insight

SHORT_ID_ALPHABET = string.ascii_letters + string.digits
SHORT_ID_LENGTH = 8  # PostHog's
DEFAULT_DASHBOARD = "Web analytics"
_LAST_30_DAYS = {"date_from": "-30d", "date_to": None}


def _trend(series: dict[str, Any], display: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", **series}],
        "interval": "day",
        "dateRange": _LAST_30_DAYS,
        "trendsFilter": {"display": display},
        **extra,
    }


# What a new project's dashboard shows: the questions a website's owner asks first.
DEFAULT_INSIGHTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "Pageviews",
        "Page views per day over the last 30 days",
        _trend({"event": "$pageview", "math": "total"}, "ActionsLineGraph"),
    ),
    (
        "Unique visitors",
        "Distinct visitors per day: an anonymous visitor counts once per device, a person once",
        _trend({"event": "$pageview", "math": "dau"}, "ActionsLineGraph"),
    ),
    (
        "Top pages",
        "Page views by path over the last 30 days",
        _trend(
            {"event": "$pageview", "math": "total"},
            "ActionsTable",
            interval="month",
            breakdownFilter={
                "breakdown": "$pathname",
                "breakdown_type": "event",
                "breakdown_limit": 10,
            },
        ),
    ),
    (
        "Top referrers",
        "Page views by referring domain over the last 30 days",
        _trend(
            {"event": "$pageview", "math": "total"},
            "ActionsPie",
            breakdownFilter={
                "breakdown": "$referring_domain",
                "breakdown_type": "event",
                "breakdown_limit": 10,
            },
        ),
    ),
)


def new_short_id() -> str:
    return "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(SHORT_ID_LENGTH))


def create_insight(
    insights: InsightStore, project_id: int, name: str, description: str, query: dict[str, Any]
) -> Insight:
    # 62^8 ids: a clash is rare enough that a few tries always find a free one.
    for _ in range(5):
        try:
            return insights.create(project_id, new_short_id(), name, description, query)
        except ValueError:
            continue
    raise RuntimeError("no free short id after 5 tries")


def ensure_default_dashboard(
    dashboards: DashboardStore, insights: InsightStore, project_id: int
) -> None:
    """Make the project's first dashboard, once in its life."""
    if not dashboards.claim_default(project_id):
        return
    board = dashboards.create(
        project_id, DEFAULT_DASHBOARD, "Made with the project: traffic at a glance"
    )
    for name, description, query in DEFAULT_INSIGHTS:
        insight = create_insight(insights, project_id, name, description, query)
        dashboards.add_tile(project_id, board.id, insight.id)
