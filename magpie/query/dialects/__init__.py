"""One module per engine: its physical tables, property access, function map and time arithmetic."""
