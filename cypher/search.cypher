// Taxpayers whose tax id starts with $text or whose name contains it (text index); exact id first.
CALL () {
    MATCH (t:Taxpayer) WHERE t.tax_id STARTS WITH $text
    RETURN t
    UNION
    MATCH (t:Taxpayer) WHERE t.name CONTAINS $text
    RETURN t
}
WITH t ORDER BY CASE WHEN t.tax_id = $text THEN 0 ELSE 1 END, t.name, t.tax_id LIMIT $limit
RETURN collect(t.tax_id) AS tax_ids
