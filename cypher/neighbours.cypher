// One breadth-first step: trading partners of $frontier through invoices (either direction) issued in
// [$start, $end) with total_fen >= $min_amount_fen, with the invoiced volume per (from, to) pair.
UNWIND $frontier AS fid
MATCH (:Taxpayer {tax_id: fid})-[:ISSUED|BILLED_TO]-(i:Invoice)
WHERE i.ts >= $start AND i.ts < $end AND i.total_fen >= $min_amount_fen
WITH fid, CASE WHEN i.seller_tax_id = fid THEN i.buyer_tax_id ELSE i.seller_tax_id END AS other, i.total_fen AS total
WHERE other <> fid
RETURN collect([fid, other, total]) AS rows
