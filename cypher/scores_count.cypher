// How many rows scores_page.cypher would give without $skip / $limit.
MATCH (s:Score {run_id: $run_id})
WHERE s.score >= $min_score AND ($tax_ids IS NULL OR s.tax_id IN $tax_ids)
  AND ($tiers IS NULL OR coalesce($overrides[s.tax_id], s.tier) IN $tiers)
OPTIONAL MATCH (t:Taxpayer {tax_id: s.tax_id})
WITH s, t
WHERE ($industries IS NULL OR t.industry IN $industries) AND ($regions IS NULL OR t.region IN $regions)
  AND ($text IS NULL OR coalesce(t.name, '') CONTAINS $text OR s.tax_id STARTS WITH $text)
RETURN count(s) AS n
