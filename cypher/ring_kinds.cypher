// Rings of run $run_id per kind.
MATCH (r:Ring {run_id: $run_id})
RETURN r.kind AS kind, count(r) AS n
ORDER BY kind
