// Invoices issued or received by $tax_id in [$start, $end), newest first, at most $limit.
MATCH (t:Taxpayer {tax_id: $tax_id})-[:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end
WITH DISTINCT i ORDER BY i.ts DESC, i.key DESC LIMIT $limit
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
