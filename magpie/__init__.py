"""Magpie: self-hostable product analytics, drop-in compatible with the PostHog SDKs."""

__version__ = "0.1.0"
