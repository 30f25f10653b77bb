// Create invoices that do not exist yet (the caller checked in the same transaction), with both edges.
UNWIND range(0, size($key) - 1) AS n
MATCH (s:Taxpayer {tax_id: $seller_tax_id[n]})
MATCH (b:Taxpayer {tax_id: $buyer_tax_id[n]})
CREATE (s)-[:ISSUED]->(i:Invoice {
    key: $key[n], number: $number[n], code: $code[n], ts: $ts[n],
    issued_at: datetime({epochSeconds: $ts[n], timezone: 'Asia/Shanghai'}),
    seller_tax_id: $seller_tax_id[n], seller_name: $seller_name[n],
    buyer_tax_id: $buyer_tax_id[n], buyer_name: $buyer_name[n],
    amount_fen: $amount_fen[n], tax_fen: $tax_fen[n], total_fen: $total_fen[n], rate: $rate[n],
    kind: $kind[n], status: $status[n], red_ref: $red_ref[n], item_code: $item_code[n], item_name: $item_name[n]
})-[:BILLED_TO]->(b)
