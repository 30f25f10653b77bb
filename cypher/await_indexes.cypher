// Wait until every index and constraint is online (after a bulk import, before timing or serving).
CALL db.awaitIndexes($seconds)
