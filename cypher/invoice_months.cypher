// Store.invoice_months: invoices issued in [$start, $end) (epoch seconds) per calendar month of their issue time in
// zone $tz, with their total; oldest month first.
MATCH (i:Invoice)
WHERE i.ts >= $start AND i.ts < $end
WITH datetime({epochSeconds: i.ts, timezone: $tz}) AS at, i.total_fen AS fen
WITH at.year AS y, at.month AS m, count(*) AS n, coalesce(sum(fen), 0) AS fen
RETURN y, m, n, fen
ORDER BY y, m
