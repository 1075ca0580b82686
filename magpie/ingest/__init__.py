"""Ingestion: queue records → normalised events, persons and groups → the store."""
