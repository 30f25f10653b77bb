// ego_trades.cypher done by the server-side procedure (tools/neo4j-local, fapiao.ego): same rings, ranking, cap and
// dropped count; edges come back as packed little-endian columns (int32 indexes into kept, int64 pos_* values).
CALL fapiao.ego($center, $hops, $limit)
YIELD kept, bounds, dropped, nodes, sellers, buyers, counts, totals, firsts, lasts
RETURN kept, bounds, dropped, nodes, sellers, buyers, counts, totals, firsts, lasts
