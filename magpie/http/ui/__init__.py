"""The web UI: the sign-up, log-in and log-out pages, and the single-page app
built from ``frontend/`` into ``dist/`` (static files, no CDN)."""
