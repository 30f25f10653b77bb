// Invoices by key, ordered by issue time, as one list of rows.
UNWIND $keys AS k
MATCH (i:Invoice {key: k})
WITH DISTINCT i ORDER BY i.ts, i.key
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
