"""Saved insights and dashboards over the REST API, in PostHog's shapes."""

from __future__ import annotations

from tests.conftest import LiveServer

TREND = {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}]}


def test_a_project_starts_with_its_web_analytics_dashboard(live_server: LiveServer) -> None:
    base = f"/api/projects/{live_server.project_id}"
    with live_server.api() as api:
        [board] = api.get(f"{base}/dashboards/").json()["results"]
        one = api.get(f"{base}/dashboards/{board['id']}/").json()
        names = [t["insight"]["name"] for t in one["tiles"]]
        assert names == ["Pageviews", "Unique visitors", "Top pages", "Top referrers"]
        assert all(t["insight"]["dashboards"] == [board["id"]] for t in one["tiles"])
        # Made once: deleting it does not bring it back.
        assert api.delete(f"{base}/dashboards/{board['id']}/").status_code == 204
        assert api.get(f"{base}/dashboards/").json()["results"] == []


def test_save_an_insight_and_put_it_on_dashboards(live_server: LiveServer) -> None:
    base = f"/api/projects/{live_server.project_id}"
    with live_server.api() as api:
        board = api.post(f"{base}/dashboards/", json={"name": "Growth"}).json()
        assert board["tiles"] == [] and board["filters"] == {}
        saved = api.post(
            f"{base}/insights/",
            json={"name": "Views", "query": TREND, "dashboards": [board["id"]]},
        )
        assert saved.status_code == 201, saved.text
        insight = saved.json()
        assert insight["dashboards"] == [board["id"]] and insight["query"] == TREND
        found = api.get(f"{base}/insights/", params={"short_id": insight["short_id"]}).json()
        assert [i["id"] for i in found["results"]] == [insight["id"]]

        renamed = api.patch(
            f"{base}/dashboards/{board['id']}/",
            json={"name": "Growth 2", "filters": {"date_from": "-7d"}},
        ).json()
        assert renamed["name"] == "Growth 2" and renamed["filters"] == {"date_from": "-7d"}
        [tile] = renamed["tiles"]
        assert tile["insight"]["id"] == insight["id"]

        removed = api.patch(
            f"{base}/dashboards/{board['id']}/",
            json={"tiles": [{"id": tile["id"], "deleted": True}]},
        ).json()
        assert removed["tiles"] == []
        again = api.patch(f"{base}/insights/{insight['id']}/", json={"dashboards": [board["id"]]})
        assert again.json()["dashboards"] == [board["id"]]
        off = api.patch(f"{base}/insights/{insight['id']}/", json={"dashboards": []})
        assert off.json()["dashboards"] == []
        bad = api.patch(f"{base}/insights/{insight['id']}/", json={"dashboards": [999999]})
        assert bad.status_code == 400 and bad.json()["attr"] == "dashboards"

        for body, attr in (({"name": "x"}, "query"), ({"query": {"no": "kind"}}, "query")):
            refused = api.post(f"{base}/insights/", json=body)
            assert refused.status_code == 400 and refused.json()["attr"] == attr, refused.text
        assert api.delete(f"{base}/insights/{insight['id']}/").status_code == 204
        assert api.get(f"{base}/insights/{insight['id']}/").status_code == 404
