"""What ``/flags`` answers on the event loop: only what is already in memory.

A request whose token, flag definitions, persons, groups and cohort answers
are all kept in memory is evaluated where it arrived, without the hop to a
worker thread (which costs more than evaluating 50 flags). Anything that
would read a store raises ``NotKept`` instead, and the request is evaluated
again in a thread, reading what it needs.
"""

from __future__ import annotations


class NotKept(Exception):
    """The answer needs a store read: evaluate in a thread instead."""
