// ego_trades.cypher done by the server-side procedure (tools/neo4j-local, fapiao.ego): same rings, ranking, cap and
// dropped count, answered from the procedure's in-memory TRADES copy when no transaction committed since it was
// built, else by walking the store; edges come back as packed little-endian columns (int32 indexes into kept,
// int64 pos_* values). $center rather than $tax_id: the EXPLAIN-every-statement test gives $tax_id a list.
CALL fapiao.ego($center, $hops, $limit)
YIELD kept, bounds, dropped, nodes, sellers, buyers, counts, totals, firsts, lasts
RETURN kept, bounds, dropped, nodes, sellers, buyers, counts, totals, firsts, lasts
