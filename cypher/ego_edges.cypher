// Aggregated issuer→buyer edges among $ids for invoices in [$start, $end) with total_fen >= $min_amount_fen.
UNWIND $ids AS id
MATCH (s:Taxpayer {tax_id: id})-[:ISSUED]->(i:Invoice)
WHERE i.buyer_tax_id IN $ids AND i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen
WITH i.seller_tax_id AS s, i.buyer_tax_id AS b, count(*) AS c, sum(i.total_fen) AS total,
     min(i.ts) AS first_ts, max(i.ts) AS last_ts
RETURN collect([s, b, c, total, first_ts, last_ts]) AS rows
