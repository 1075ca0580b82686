"""The bounded in-memory queue of encoded events and the thread that drains it."""

from magpie_sdk.queue.buffer import EventBuffer, Item
from magpie_sdk.queue.consumer import Consumer

__all__ = ["Consumer", "EventBuffer", "Item"]
