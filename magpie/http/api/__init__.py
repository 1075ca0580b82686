"""The private REST API (PostHog-shaped), authenticated with personal API keys."""
