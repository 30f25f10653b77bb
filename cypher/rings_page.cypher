// Store.rings_page: the rings of run $run_id whose kind is in $kinds (null: any) and score >= $min_score, with the
// span and total of their stored invoices; kept when the total >= $min_fen and the span meets [$start, $end)
// (epoch seconds, null: unbounded); highest score first, $skip / $limit page through them.
MATCH (r:Ring {run_id: $run_id})
WHERE ($kinds IS NULL OR r.kind IN $kinds) AND r.score >= $min_score
CALL (r) {
    UNWIND r.invoice_keys AS k
    OPTIONAL MATCH (i:Invoice {key: k})
    RETURN min(i.ts) AS first_ts, max(i.ts) AS last_ts, coalesce(sum(i.total_fen), 0) AS fen
}
WITH r, first_ts, last_ts, fen
WHERE fen >= $min_fen AND ($start IS NULL OR last_ts >= $start) AND ($end IS NULL OR first_ts < $end)
RETURN r.id AS id, r.run_id AS run_id, r.kind AS kind, r.members AS members, r.invoice_keys AS invoice_keys,
       r.score AS score, r.evidence AS evidence, r.details AS details, first_ts, last_ts, fen
ORDER BY r.score DESC, r.id
SKIP $skip LIMIT $limit
