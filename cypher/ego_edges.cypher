// Aggregated issuer→buyer edges with both ends in $ids, for invoices issued in [$start, $end) with
// total_fen >= $min_amount_fen, as [seller, buyer, count, total_fen, first_ts, last_ts] rows.
UNWIND $ids AS id
MATCH (:Taxpayer {tax_id: id})-[:ISSUED]->(i:Invoice)
WHERE i.buyer_tax_id IN $ids AND i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen
  AND i.seller_tax_id <> i.buyer_tax_id
WITH i.seller_tax_id AS seller, i.buyer_tax_id AS buyer, count(*) AS n, sum(i.total_fen) AS total,
     min(i.ts) AS first_ts, max(i.ts) AS last_ts
RETURN collect([seller, buyer, n, total, first_ts, last_ts]) AS rows
