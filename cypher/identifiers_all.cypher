// Every (tax_id, kind, value) identifier link, as one list of rows.
MATCH (t:Taxpayer)-[:HAS]->(x:Identifier)
WITH t.tax_id AS tax_id, x.kind AS kind, x.value AS value ORDER BY tax_id, kind, value
RETURN collect([tax_id, kind, value]) AS rows
