// The distinct industries and regions of the taxpayers scored in run $run_id (nulls left out).
MATCH (s:Score {run_id: $run_id})
MATCH (t:Taxpayer {tax_id: s.tax_id})
RETURN collect(DISTINCT t.industry) AS industries, collect(DISTINCT t.region) AS regions
