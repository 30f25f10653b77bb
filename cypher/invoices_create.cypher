// Create invoices that do not exist yet, with both edges. $party lists the batch's taxpayers once; rows refer to
// them by position ($seller_idx / $buyer_idx), so each taxpayer is looked up once per batch, not twice per row.
// Creates nothing when a party is missing (the caller checks the nodes-created counter).
UNWIND range(0, size($party) - 1) AS p
MATCH (t:Taxpayer {tax_id: $party[p]})
WITH p, t ORDER BY p
WITH collect(t) AS ps
WHERE size(ps) = size($party)
UNWIND range(0, size($key) - 1) AS n
WITH ps[$seller_idx[n]] AS s, ps[$buyer_idx[n]] AS b, n
CREATE (s)-[:ISSUED]->(i:Invoice {
    key: $key[n], number: $number[n], code: $code[n], ts: $ts[n],
    issued_at: datetime({epochSeconds: $ts[n], timezone: $tz}),
    seller_tax_id: $seller_tax_id[n], seller_name: $seller_name[n],
    buyer_tax_id: $buyer_tax_id[n], buyer_name: $buyer_name[n],
    amount_fen: $amount_fen[n], tax_fen: $tax_fen[n], total_fen: $total_fen[n], rate: $rate[n],
    kind: $kind[n], status: $status[n], red_ref: $red_ref[n], item_code: $item_code[n], item_name: $item_name[n]
})-[:BILLED_TO]->(b)
