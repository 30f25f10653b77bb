// Replace one detection run: delete its old rings and scores, then (re)write the run node.
MERGE (run:Run {run_id: $run_id})
SET run.created_at = datetime({epochMillis: $created_ms, timezone: $tz}),
    run.created_us = $created_us, run.params = $params, run.fingerprint = $fingerprint,
    run.stage_seconds = $stage_seconds
WITH run
CALL (run) {
    OPTIONAL MATCH (r:Ring {run_id: run.run_id})
    DETACH DELETE r
}
CALL (run) {
    OPTIONAL MATCH (s:Score {run_id: run.run_id})
    DETACH DELETE s
}
RETURN run.run_id AS run_id
