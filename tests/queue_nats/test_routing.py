"""The queue URL and how records are split across partitions (no server needed)."""

from __future__ import annotations

import orjson
import pytest

from magpie.errors import PayloadTooLarge
from magpie.queue.nats import InvalidQueueUrl, parse_queue_url, partition_of
from magpie.queue.nats.partitions import split_record


def test_a_queue_url_names_host_port_and_stream() -> None:
    url = parse_queue_url("nats://queue.internal:4333/magpie_prod")
    assert (url.scheme, url.host, url.port, url.stream) == (
        "nats",
        "queue.internal",
        4333,
        "magpie_prod",
    )
    assert url.server == "nats://queue.internal:4333"
    assert not url.tls


def test_tls_credentials_and_the_default_port() -> None:
    url = parse_queue_url("tls://magpie:s%40cret@nats.example.com/events-eu")
    assert url.tls and url.port == 4222 and url.stream == "events-eu"
    assert (url.user, url.password) == ("magpie", "s@cret")


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://127.0.0.1:4222/S", "scheme"),
        ("nats://127.0.0.1:4222", "names no stream"),
        ("nats://127.0.0.1:4222/", "names no stream"),
        ("nats:///S", "names no host"),
        ("nats://127.0.0.1:port/S", "port"),
        ("nats://127.0.0.1:4222/a.b", "letters, digits"),
        ("nats://127.0.0.1:4222/a/b", "letters, digits"),
        ("nats://127.0.0.1:4222/S?x=1", "no query"),
    ],
)
def test_a_bad_queue_url_is_refused_with_the_reason(url: str, complaint: str) -> None:
    with pytest.raises(InvalidQueueUrl, match=complaint):
        parse_queue_url(url)


def test_a_password_never_appears_in_the_error() -> None:
    with pytest.raises(InvalidQueueUrl) as caught:
        parse_queue_url("nats://u:hunter2@host:4222/")
    assert "hunter2" not in str(caught.value)


def test_the_partition_hash_is_stable() -> None:
    # CRC-32 (zlib) of "project_id:distinct_id", modulo the partition count: the
    # same on every machine and Python, so capture processes agree on the route.
    keys = [(1, "alice"), (1, "bob"), (1, "carol"), (1, ""), (42, "user@example.com")]
    assert [partition_of(p, d, 16) for p, d in keys] == [9, 12, 13, 15, 2]
    assert partition_of(1, "alice", 1_000_000) == 0xD7351E09 % 1_000_000


def _record(*events: tuple[str, str]) -> bytes:
    return orjson.dumps(
        {
            "project_id": 7,
            "ip": "10.0.0.1",
            "received_at": "2026-03-01T12:00:00",
            "events": [{"uuid": u, "distinct_id": d, "event": "e"} for u, d in events],
        }
    )


def test_a_record_is_split_by_distinct_id_keeping_order_and_head() -> None:
    ids = [f"user-{i}" for i in range(20)]
    events = [(f"u{n}", ids[n % 20]) for n in range(60)]
    messages = split_record(_record(*events), 8, 1 << 20)
    seen: dict[str, list[str]] = {}
    for message in messages:
        body = orjson.loads(message.payload)
        assert {k: body[k] for k in ("project_id", "ip", "received_at")} == {
            "project_id": 7,
            "ip": "10.0.0.1",
            "received_at": "2026-03-01T12:00:00",
        }
        for event in body["events"]:
            assert partition_of(7, event["distinct_id"], 8) == message.partition
            seen.setdefault(event["distinct_id"], []).append(event["uuid"])
    assert len({m.partition for m in messages}) == len(messages)  # one message per partition
    for distinct_id in ids:
        assert seen[distinct_id] == [u for u, d in events if d == distinct_id]


def test_message_ids_come_from_the_event_uuids() -> None:
    one = split_record(_record(("uuid-1", "alice")), 4, 1 << 20)
    assert [m.msg_id for m in one] == ["7:uuid-1"]
    first = split_record(_record(("a", "alice"), ("b", "alice")), 4, 1 << 20)
    # A retried request: same events, another received_at, the same message ids.
    retried = orjson.loads(_record(("a", "alice"), ("b", "alice")))
    retried["received_at"] = "2026-03-01T12:00:05"
    again = split_record(orjson.dumps(retried), 4, 1 << 20)
    assert [m.msg_id for m in first] == [m.msg_id for m in again]
    other = split_record(_record(("a", "alice"), ("c", "alice")), 4, 1 << 20)
    assert first[0].msg_id != other[0].msg_id


def test_a_drop_record_goes_to_its_projects_partition() -> None:
    payload = orjson.dumps({"project_id": 7, "dropped": 3, "received_at": "2026-03-01T12:00:00"})
    [message] = split_record(payload, 16, 1 << 20)
    assert message.partition == partition_of(7, "", 16)
    assert message.payload == payload


def test_a_part_larger_than_max_payload_is_cut_into_messages_that_fit() -> None:
    events = [(f"u{n}", "alice") for n in range(100)]
    record = orjson.loads(_record(*events))
    for event in record["events"]:
        event["properties"] = {"blob": "x" * 500}
    messages = split_record(orjson.dumps(record), 4, 8 * 1024)
    assert len(messages) > 1
    assert all(len(m.payload) <= 8 * 1024 for m in messages)
    uuids = [e["uuid"] for m in messages for e in orjson.loads(m.payload)["events"]]
    assert uuids == [u for u, _ in events]
    assert len({m.msg_id for m in messages}) == len(messages)


def test_an_event_larger_than_max_payload_is_refused() -> None:
    record = orjson.loads(_record(("u1", "alice")))
    record["events"][0]["properties"] = {"blob": "x" * 20_000}
    with pytest.raises(PayloadTooLarge):
        split_record(orjson.dumps(record), 4, 8 * 1024)
