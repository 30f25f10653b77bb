// Store.scores_page: the scores of run $run_id with the taxpayer's name, industry and region, highest score first.
// $overrides maps a tax id to the tier in force where it is not the model's; $tiers filters on the tier in force.
// $tiers, $industries, $regions, $tax_ids: null is any; $text: the name contains it or the tax id starts with it.
MATCH (s:Score {run_id: $run_id})
WHERE s.score >= $min_score AND ($tax_ids IS NULL OR s.tax_id IN $tax_ids)
  AND ($tiers IS NULL OR coalesce($overrides[s.tax_id], s.tier) IN $tiers)
OPTIONAL MATCH (t:Taxpayer {tax_id: s.tax_id})
WITH s, t
WHERE ($industries IS NULL OR t.industry IN $industries) AND ($regions IS NULL OR t.region IN $regions)
  AND ($text IS NULL OR coalesce(t.name, '') CONTAINS $text OR s.tax_id STARTS WITH $text)
RETURN s.tax_id AS tax_id, s.score AS score, s.tier AS tier, s.reasons AS reasons, s.features AS features,
       t.name AS name, t.industry AS industry, t.region AS region
ORDER BY s.score DESC, s.tax_id
SKIP $skip LIMIT $limit
