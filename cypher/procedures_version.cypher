// Which version of the fapiao.* read procedures the server has (fails with ProcedureNotFound when none:
// the store then uses the plain Cypher reads). tools/neo4j-local builds the jar (docs/neo4j.md).
CALL fapiao.version() YIELD version
RETURN version
