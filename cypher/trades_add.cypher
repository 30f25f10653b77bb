// Add the per-pair aggregates of newly created invoices (one row per seller/buyer pair, summed by the caller)
// to (seller)-[:TRADES]->(buyer): count/total_fen/first_ts/last_ts over every invoice (edge table) and pos_*
// over invoices with total_fen >= 0 (ego networks). Runs in the transaction that created the invoices, after
// invoices_create: pairs refer to the batch's $party list by position ($seller_idx / $buyer_idx).
UNWIND range(0, size($party) - 1) AS p
MATCH (t:Taxpayer {tax_id: $party[p]})
WITH p, t ORDER BY p
WITH collect(t) AS ps
WHERE size(ps) = size($party)
UNWIND range(0, size($count) - 1) AS n
WITH ps[$seller_idx[n]] AS s, ps[$buyer_idx[n]] AS b, n
MERGE (s)-[t:TRADES]->(b)
ON CREATE SET t.count = $count[n], t.total_fen = $total_fen[n], t.first_ts = $first_ts[n], t.last_ts = $last_ts[n],
    t.pos_count = $pos_count[n], t.pos_total_fen = $pos_total_fen[n], t.pos_first_ts = $pos_first_ts[n],
    t.pos_last_ts = $pos_last_ts[n]
ON MATCH SET t.count = t.count + $count[n], t.total_fen = t.total_fen + $total_fen[n],
    t.first_ts = CASE WHEN $first_ts[n] < t.first_ts THEN $first_ts[n] ELSE t.first_ts END,
    t.last_ts = CASE WHEN $last_ts[n] > t.last_ts THEN $last_ts[n] ELSE t.last_ts END,
    t.pos_count = t.pos_count + $pos_count[n], t.pos_total_fen = t.pos_total_fen + $pos_total_fen[n],
    t.pos_first_ts = CASE WHEN t.pos_first_ts IS NULL OR $pos_first_ts[n] < t.pos_first_ts THEN $pos_first_ts[n]
                          ELSE t.pos_first_ts END,
    t.pos_last_ts = CASE WHEN t.pos_last_ts IS NULL OR $pos_last_ts[n] > t.pos_last_ts THEN $pos_last_ts[n]
                         ELSE t.pos_last_ts END
