"""Tokens and keys as every store makes and keeps them.

A project token (``phc_…``) is public (SDKs send it) and stored as is. A
personal API key (``phx_…``) is shown once: a store keeps only its SHA-256
digest, to find it by, and a mask to show in lists.
"""

from __future__ import annotations

import hashlib
import secrets


def new_project_token() -> str:
    return "phc_" + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return "phx_" + secrets.token_urlsafe(32)


def key_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def key_mask(value: str) -> str:
    return value[:8] + "…" + value[-4:]
