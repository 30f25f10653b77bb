// Overwrite stored invoices by key; re-point ISSUED / BILLED_TO when seller or buyer changed.
UNWIND range(0, size($key) - 1) AS n
MATCH (i:Invoice {key: $key[n]})
MATCH (s:Taxpayer {tax_id: $seller_tax_id[n]})
MATCH (b:Taxpayer {tax_id: $buyer_tax_id[n]})
SET i += {
    number: $number[n], code: $code[n], ts: $ts[n],
    issued_at: datetime({epochSeconds: $ts[n], timezone: $tz}),
    seller_tax_id: $seller_tax_id[n], seller_name: $seller_name[n],
    buyer_tax_id: $buyer_tax_id[n], buyer_name: $buyer_name[n],
    amount_fen: $amount_fen[n], tax_fen: $tax_fen[n], total_fen: $total_fen[n], rate: $rate[n],
    kind: $kind[n], status: $status[n], red_ref: $red_ref[n], item_code: $item_code[n], item_name: $item_name[n]
}
WITH i, s, b
CALL (i, s, b) {
    OPTIONAL MATCH (old)-[r:ISSUED]->(i) WHERE old <> s
    DELETE r
    WITH count(*) AS ignored
    OPTIONAL MATCH (i)-[r2:BILLED_TO]->(old2) WHERE old2 <> b
    DELETE r2
}
MERGE (s)-[:ISSUED]->(i)
MERGE (i)-[:BILLED_TO]->(b)
