// Taxpayers whose tax id starts with $text (uniqueness-index range seek) or whose name contains it; exact id
// first, then by name; returned with their identifiers in one round trip. A rare fragment is answered from the
// text index (NodeIndexContainsScan, at most 2,000 matches to sort); a fragment found in 2,000 names or more
// from the name range index read in name order, which stops after $limit matches (PartialTop).
CALL () {
    MATCH (t:Taxpayer) WHERE t.name CONTAINS $text
    WITH t LIMIT 2000
    RETURN count(t) AS hits
}
CALL (hits) {
    // (the branch not taken seeks a null value, which finds nothing without scanning)
    MATCH (t:Taxpayer) WHERE t.name CONTAINS CASE WHEN hits < 2000 THEN $text END
    RETURN t
    UNION
    MATCH (t:Taxpayer) USING RANGE INDEX t:Taxpayer(name)
    WHERE t.name >= CASE WHEN hits >= 2000 THEN '' END AND t.name CONTAINS $text
    WITH t ORDER BY t.name, t.tax_id LIMIT $limit
    RETURN t
    UNION
    MATCH (t:Taxpayer) WHERE t.tax_id STARTS WITH $text
    RETURN t
}
WITH t ORDER BY CASE WHEN t.tax_id = $text THEN 0 ELSE 1 END, t.name, t.tax_id LIMIT $limit
OPTIONAL MATCH (t)-[:HAS]->(x:Identifier)
WITH t, collect([x.kind, x.value]) AS ids
RETURN collect([t.tax_id, coalesce(t.name, ''), t.registered_on, t.industry, t.region, t.invoice_limit_fen,
                t.status, ids]) AS rows
