"""Storage: the event store and the person/metadata store behind small interfaces."""
