// Status lookup (查验): number (+ code when given), issue day [$day_start, $day_end), amount or total.
MATCH (i:Invoice {number: $number})
WHERE ($code IS NULL OR i.code = $code) AND i.ts >= $day_start AND i.ts < $day_end
  AND (i.amount_fen = $amount_fen OR i.total_fen = $amount_fen)
WITH i ORDER BY i.key LIMIT 1
RETURN collect([i.key, i.number, i.code, i.ts, i.seller_tax_id, i.seller_name, i.buyer_tax_id, i.buyer_name,
                i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code,
                i.item_name]) AS rows
