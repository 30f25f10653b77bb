// Aggregated issuer→buyer edges of the invoices issued in [$start, $end) (range index on ts; seller and buyer
// tax ids are invoice properties, so no relationship is expanded), as parallel columns.
MATCH (i:Invoice)
WHERE i.ts >= $start AND i.ts < $end
WITH i.seller_tax_id AS s, i.buyer_tax_id AS b, count(*) AS c, sum(i.total_fen) AS total,
     min(i.ts) AS first_ts, max(i.ts) AS last_ts
RETURN collect(s) AS sellers, collect(b) AS buyers, collect(c) AS counts, collect(total) AS totals,
       collect(first_ts) AS firsts, collect(last_ts) AS lasts
