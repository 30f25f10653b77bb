// Store.invoices_of_tally: how many invoices invoices_of_side.cypher would give without $skip / $limit, and their total.
MATCH (t:Taxpayer {tax_id: $tax_id})-[r:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end AND ($min_fen <= 0 OR i.total_fen >= $min_fen)
  AND CASE WHEN $issued THEN type(r) = 'ISSUED' ELSE type(r) = 'BILLED_TO' AND i.seller_tax_id <> $tax_id END
WITH DISTINCT i
RETURN count(i) AS n, coalesce(sum(i.total_fen), 0) AS fen
