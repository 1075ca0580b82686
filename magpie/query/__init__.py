"""The query layer: HogQL-style SQL and insight queries, compiled to the store's SQL."""
