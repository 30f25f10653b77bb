// One breadth-first step: the trading pairs of the taxpayers in $frontier, aggregated over invoices (either
// direction) issued in [$start, $end) with total_fen >= $min_amount_fen, as
// [seller, buyer, count, total_fen, first_ts, last_ts] rows. A pair's row is the same whichever end is expanded.
UNWIND $frontier AS fid
MATCH (:Taxpayer {tax_id: fid})-[:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen AND i.seller_tax_id <> i.buyer_tax_id
WITH DISTINCT i
WITH i.seller_tax_id AS seller, i.buyer_tax_id AS buyer, count(*) AS n, sum(i.total_fen) AS total,
     min(i.ts) AS first_ts, max(i.ts) AS last_ts
RETURN collect([seller, buyer, n, total, first_ts, last_ts]) AS rows
