// The stored invoices among $keys with their current seller and buyer, as [key, seller, buyer] rows.
UNWIND $keys AS k
MATCH (i:Invoice {key: k})
RETURN collect([i.key, i.seller_tax_id, i.buyer_tax_id]) AS rows
