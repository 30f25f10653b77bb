// Invoices a→b and b→a issued in [$start, $end), ordered by issue time.
MATCH (a:Taxpayer {tax_id: $a})-[:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end
  AND ((i.seller_tax_id = $a AND i.buyer_tax_id = $b) OR (i.seller_tax_id = $b AND i.buyer_tax_id = $a))
WITH DISTINCT i ORDER BY i.ts, i.key
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
