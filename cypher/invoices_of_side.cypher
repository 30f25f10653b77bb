// Store.invoices_of_page: the invoices $tax_id issued ($issued true) or received from another taxpayer ($issued
// false) in [$start, $end) with total_fen >= $min_fen, newest first; $skip / $limit page through them.
MATCH (t:Taxpayer {tax_id: $tax_id})-[r:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end AND ($min_fen <= 0 OR i.total_fen >= $min_fen)
  AND CASE WHEN $issued THEN type(r) = 'ISSUED' ELSE type(r) = 'BILLED_TO' AND i.seller_tax_id <> $tax_id END
WITH DISTINCT i ORDER BY i.ts DESC, i.key DESC SKIP $skip LIMIT $limit
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
