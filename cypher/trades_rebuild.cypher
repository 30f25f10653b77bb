// Recompute (seller)-[:TRADES]->(buyer) from the stored invoices for the given pairs (after invoices were
// overwritten: their old and new pairs). A pair with no invoice left loses its TRADES relationship.
UNWIND range(0, size($seller_tax_id) - 1) AS n
MATCH (s:Taxpayer {tax_id: $seller_tax_id[n]})
MATCH (b:Taxpayer {tax_id: $buyer_tax_id[n]})
CALL (s, b) {
    OPTIONAL MATCH (s)-[old:TRADES]->(b)
    DELETE old
}
CALL (s, b) {
    MATCH (s)-[:ISSUED]->(i:Invoice)
    WHERE i.buyer_tax_id = b.tax_id
    WITH count(i) AS c, sum(i.total_fen) AS total, min(i.ts) AS first_ts, max(i.ts) AS last_ts,
         count(CASE WHEN i.total_fen >= 0 THEN 1 END) AS pc, sum(CASE WHEN i.total_fen >= 0 THEN i.total_fen ELSE 0 END) AS pt,
         min(CASE WHEN i.total_fen >= 0 THEN i.ts END) AS pf, max(CASE WHEN i.total_fen >= 0 THEN i.ts END) AS pl
    WHERE c > 0
    CREATE (s)-[:TRADES {count: c, total_fen: total, first_ts: first_ts, last_ts: last_ts, pos_count: pc,
                         pos_total_fen: pt, pos_first_ts: pf, pos_last_ts: pl}]->(b)
}
