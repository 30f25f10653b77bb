// edge_table_trades.cypher done by the server-side procedure (tools/neo4j-local, fapiao.edgeTable): every TRADES
// aggregate, the tax ids once, sellers/buyers as int32 indexes into them, count/total/first/last as int64 columns.
CALL fapiao.edgeTable()
YIELD taxIds, sellers, buyers, counts, totals, firsts, lasts
RETURN taxIds, sellers, buyers, counts, totals, firsts, lasts
