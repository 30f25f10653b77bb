// (tax_id, kind, value) identifier links of the given taxpayers ($all = true: every link).
CALL () {
    MATCH (t:Taxpayer) WHERE $all
    RETURN t
    UNION
    UNWIND $tax_ids AS id
    MATCH (t:Taxpayer {tax_id: id})
    RETURN t
}
MATCH (t)-[:HAS]->(x:Identifier)
WITH t.tax_id AS tax_id, x.kind AS kind, x.value AS value ORDER BY tax_id, kind, value
RETURN collect([tax_id, kind, value]) AS rows
