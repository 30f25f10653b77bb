// Rings of one run ($run_id), or one ring ($ring_id), highest score first.
MATCH (r:Ring)
WHERE ($run_id IS NOT NULL AND r.run_id = $run_id) OR ($ring_id IS NOT NULL AND r.id = $ring_id)
RETURN r.id AS id, r.run_id AS run_id, r.kind AS kind, r.members AS members, r.invoice_keys AS invoice_keys,
       r.score AS score, r.evidence AS evidence, r.details AS details
ORDER BY r.score DESC, r.id
