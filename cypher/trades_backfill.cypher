// Build every (seller)-[:TRADES]->(buyer) aggregate from the stored invoices (a database loaded before TRADES
// existed). Idempotent (MERGE + overwrite). Auto-commit transaction (CALL ... IN TRANSACTIONS).
MATCH (i:Invoice)
WITH i.seller_tax_id AS s, i.buyer_tax_id AS b, count(i) AS c, sum(i.total_fen) AS total, min(i.ts) AS first_ts,
     max(i.ts) AS last_ts, count(CASE WHEN i.total_fen >= 0 THEN 1 END) AS pc,
     sum(CASE WHEN i.total_fen >= 0 THEN i.total_fen ELSE 0 END) AS pt,
     min(CASE WHEN i.total_fen >= 0 THEN i.ts END) AS pf, max(CASE WHEN i.total_fen >= 0 THEN i.ts END) AS pl
CALL (s, b, c, total, first_ts, last_ts, pc, pt, pf, pl) {
    MATCH (seller:Taxpayer {tax_id: s})
    MATCH (buyer:Taxpayer {tax_id: b})
    MERGE (seller)-[t:TRADES]->(buyer)
    SET t.count = c, t.total_fen = total, t.first_ts = first_ts, t.last_ts = last_ts, t.pos_count = pc,
        t.pos_total_fen = pt, t.pos_first_ts = pf, t.pos_last_ts = pl
} IN TRANSACTIONS OF 10000 ROWS
