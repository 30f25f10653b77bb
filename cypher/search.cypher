// Taxpayers whose tax id starts with $text (unique-index range seek) or whose name contains it (text index:
// NodeIndexContainsScan), exact id first, then by name; returned with their identifiers in one round trip.
CALL () {
    MATCH (t:Taxpayer) WHERE t.tax_id STARTS WITH $text
    RETURN t
    UNION
    MATCH (t:Taxpayer) WHERE t.name CONTAINS $text
    RETURN t
}
WITH t ORDER BY CASE WHEN t.tax_id = $text THEN 0 ELSE 1 END, t.name, t.tax_id LIMIT $limit
OPTIONAL MATCH (t)-[:HAS]->(x:Identifier)
WITH t, collect([x.kind, x.value]) AS ids
RETURN collect([t.tax_id, coalesce(t.name, ''), t.registered_on, t.industry, t.region, t.invoice_limit_fen,
                t.status, ids]) AS rows
