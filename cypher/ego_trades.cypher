// Ego network in one round trip over the (:Taxpayer)-[:TRADES]->(:Taxpayer) aggregates (whole period, invoices
// with total_fen >= 0: the pos_* properties). Rings 1..$hops (at most 3) around $tax_id; within a ring, nodes
// ranked by volume with the ring before, then tax id; the first $limit nodes (centre first) kept, the other
// reachable ones only counted; edges = the TRADES aggregates among the kept nodes, as parallel columns.
MATCH (c:Taxpayer {tax_id: $tax_id})
CALL (c) {
    UNWIND CASE WHEN $hops >= 1 THEN [c] ELSE [] END AS m
    MATCH (m)-[r:TRADES]-(x)
    WHERE r.pos_count > 0 AND x <> c
    WITH x, sum(r.pos_total_fen) AS v
    ORDER BY v DESC, x.tax_id
    RETURN collect(x) AS ring1
}
CALL (c, ring1) {
    UNWIND CASE WHEN $hops >= 2 THEN ring1 ELSE [] END AS m
    MATCH (m)-[r:TRADES]-(x)
    WHERE r.pos_count > 0 AND x <> c AND NOT x IN ring1
    WITH x, sum(r.pos_total_fen) AS v
    ORDER BY v DESC, x.tax_id
    WITH collect(x) AS ring2
    RETURN ring2, ring2[0..$limit] AS top2
}
CALL (c, ring1, ring2) {
    UNWIND CASE WHEN $hops >= 3 THEN ring2 ELSE [] END AS m
    MATCH (m)-[r:TRADES]-(x)
    WHERE r.pos_count > 0 AND x <> c AND NOT x IN ring1 AND NOT x IN ring2
    WITH x, sum(r.pos_total_fen) AS v
    ORDER BY v DESC, x.tax_id
    WITH collect(x) AS ring3
    RETURN size(ring3) AS size3, ring3[0..$limit] AS top3
}
WITH ([c] + ring1 + top2 + top3)[0..$limit] AS kept, [1 + size(ring1), 1 + size(ring1) + size(top2)] AS bounds,
     1 + size(ring1) + size(ring2) + size3 AS reachable
CALL (kept) {
    UNWIND kept AS a
    MATCH (a)-[r:TRADES]->(b)
    WHERE r.pos_count > 0 AND b IN kept AND b <> a
    RETURN collect(a.tax_id) AS sellers, collect(b.tax_id) AS buyers, collect(r.pos_count) AS counts,
           collect(r.pos_total_fen) AS totals, collect(r.pos_first_ts) AS firsts, collect(r.pos_last_ts) AS lasts
}
CALL (kept) {
    UNWIND kept AS t
    OPTIONAL MATCH (t)-[:HAS]->(x:Identifier)
    WITH t, collect([x.kind, x.value]) AS ids
    RETURN collect([t.tax_id, coalesce(t.name, ''), t.registered_on, t.industry, t.region, t.invoice_limit_fen,
                    t.status, ids]) AS nodes
}
RETURN [k IN kept | k.tax_id] AS kept, bounds, reachable - size(kept) AS dropped,
       nodes, sellers, buyers, counts, totals, firsts, lasts
