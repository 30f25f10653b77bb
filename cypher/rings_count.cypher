// How many rings rings_page.cypher would give without $skip / $limit.
MATCH (r:Ring {run_id: $run_id})
WHERE ($kinds IS NULL OR r.kind IN $kinds) AND r.score >= $min_score
CALL (r) {
    UNWIND r.invoice_keys AS k
    OPTIONAL MATCH (i:Invoice {key: k})
    RETURN min(i.ts) AS first_ts, max(i.ts) AS last_ts, coalesce(sum(i.total_fen), 0) AS fen
}
WITH r, first_ts, last_ts, fen
WHERE fen >= $min_fen AND ($start IS NULL OR last_ts >= $start) AND ($end IS NULL OR first_ts < $end)
RETURN count(r) AS n
