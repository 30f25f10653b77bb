// Detection runs, newest first.
MATCH (r:Run)
RETURN r.run_id AS run_id, r.created_us AS created_us, r.params AS params, r.fingerprint AS fingerprint,
       r.stage_seconds AS stage_seconds
ORDER BY r.created_us DESC, r.run_id DESC
