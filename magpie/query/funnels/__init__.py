"""FunnelsQuery: how many actors went through a sequence of steps, and how fast."""
