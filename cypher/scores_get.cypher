// Per-taxpayer scores of one run, as one list of rows.
MATCH (s:Score {run_id: $run_id})
WITH s ORDER BY s.score DESC, s.tax_id
RETURN collect([s.tax_id, s.score, s.tier, s.reasons, s.features]) AS rows
