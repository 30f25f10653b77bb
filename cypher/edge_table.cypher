// Aggregated issuer→buyer edges of the invoices issued in [$start, $end), as one list of rows.
MATCH (i:Invoice)
WHERE i.ts >= $start AND i.ts < $end
WITH i.seller_tax_id AS s, i.buyer_tax_id AS b, count(*) AS c, sum(i.total_fen) AS total,
     min(i.ts) AS first_ts, max(i.ts) AS last_ts
RETURN collect([s, b, c, total, first_ts, last_ts]) AS rows
