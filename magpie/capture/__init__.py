"""Capture: turns what an SDK sends into validated events, following PostHog's wire rules."""
