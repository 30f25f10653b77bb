// Ego network in one round trip over the invoices themselves, for a date window [$start, $end) and/or a
// minimum amount (total_fen >= $min_amount_fen; seller <> buyer): the same rings, ranking, limit and columns
// as ego_trades, with tax ids as the ring members (the invoice carries both parties' tax ids).
MATCH (c:Taxpayer {tax_id: $tax_id})
CALL (c) {
    UNWIND CASE WHEN $hops >= 1 THEN [c.tax_id] ELSE [] END AS m
    MATCH (:Taxpayer {tax_id: m})-[:ISSUED|BILLED_TO]-(i:Invoice)
    WHERE i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen AND i.seller_tax_id <> i.buyer_tax_id
    WITH CASE i.seller_tax_id WHEN m THEN i.buyer_tax_id ELSE i.seller_tax_id END AS x, sum(i.total_fen) AS v
    ORDER BY v DESC, x
    RETURN collect(x) AS ring1
}
CALL (c, ring1) {
    UNWIND CASE WHEN $hops >= 2 THEN ring1 ELSE [] END AS m
    MATCH (:Taxpayer {tax_id: m})-[:ISSUED|BILLED_TO]-(i:Invoice)
    WHERE i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen AND i.seller_tax_id <> i.buyer_tax_id
    WITH CASE i.seller_tax_id WHEN m THEN i.buyer_tax_id ELSE i.seller_tax_id END AS x, i.total_fen AS t
    WHERE x <> c.tax_id AND NOT x IN ring1
    WITH x, sum(t) AS v
    ORDER BY v DESC, x
    WITH collect(x) AS ring2
    RETURN ring2, ring2[0..$limit] AS top2
}
CALL (c, ring1, ring2) {
    UNWIND CASE WHEN $hops >= 3 THEN ring2 ELSE [] END AS m
    MATCH (:Taxpayer {tax_id: m})-[:ISSUED|BILLED_TO]-(i:Invoice)
    WHERE i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen AND i.seller_tax_id <> i.buyer_tax_id
    WITH CASE i.seller_tax_id WHEN m THEN i.buyer_tax_id ELSE i.seller_tax_id END AS x, i.total_fen AS t
    WHERE x <> c.tax_id AND NOT x IN ring1 AND NOT x IN ring2
    WITH x, sum(t) AS v
    ORDER BY v DESC, x
    WITH collect(x) AS ring3
    RETURN size(ring3) AS size3, ring3[0..$limit] AS top3
}
WITH ([c.tax_id] + ring1 + top2 + top3)[0..$limit] AS kept, [1 + size(ring1), 1 + size(ring1) + size(top2)] AS bounds,
     1 + size(ring1) + size(ring2) + size3 AS reachable
CALL (kept) {
    UNWIND kept AS a
    MATCH (:Taxpayer {tax_id: a})-[:ISSUED]->(i:Invoice)
    WHERE i.buyer_tax_id IN kept AND i.buyer_tax_id <> a
      AND i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen
    WITH a, i.buyer_tax_id AS b, count(*) AS n, sum(i.total_fen) AS total, min(i.ts) AS first_ts, max(i.ts) AS last_ts
    RETURN collect(a) AS sellers, collect(b) AS buyers, collect(n) AS counts, collect(total) AS totals,
           collect(first_ts) AS firsts, collect(last_ts) AS lasts
}
CALL (kept) {
    UNWIND kept AS k
    MATCH (t:Taxpayer {tax_id: k})
    OPTIONAL MATCH (t)-[:HAS]->(x:Identifier)
    WITH t, collect([x.kind, x.value]) AS ids
    RETURN collect([t.tax_id, coalesce(t.name, ''), t.registered_on, t.industry, t.region, t.invoice_limit_fen,
                    t.status, ids]) AS nodes
}
RETURN kept, bounds, reachable - size(kept) AS dropped, nodes, sellers, buyers, counts, totals, firsts, lasts
