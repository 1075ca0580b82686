"""The embedded default store: one DuckDB file holds events, persons and metadata."""
