"""ActorsQuery: the persons, anonymous visitors or groups behind a number of an insight."""
