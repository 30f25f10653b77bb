// One page of the invoice stream in [$start, $end) ordered by (ts, key), after the ($after_ts, $after_key) cursor.
MATCH (i:Invoice)
WHERE i.ts >= $after_ts AND i.ts < $end AND (i.ts > $after_ts OR i.key > $after_key)
WITH i ORDER BY i.ts, i.key LIMIT $page
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
