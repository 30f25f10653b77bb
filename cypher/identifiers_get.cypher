// (tax_id, kind, value) identifier links of the given taxpayers, as one list of rows.
UNWIND $tax_ids AS id
MATCH (t:Taxpayer {tax_id: id})-[:HAS]->(x:Identifier)
WITH DISTINCT t.tax_id AS tax_id, x.kind AS kind, x.value AS value ORDER BY tax_id, kind, value
RETURN collect([tax_id, kind, value]) AS rows
