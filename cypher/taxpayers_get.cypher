// Taxpayers by id, with their identifiers, as one list of rows ordered by tax id.
UNWIND $tax_ids AS id
MATCH (t:Taxpayer {tax_id: id})
WITH DISTINCT t ORDER BY t.tax_id
OPTIONAL MATCH (t)-[:HAS]->(x:Identifier)
WITH t, collect([x.kind, x.value]) AS ids
RETURN collect([t.tax_id, coalesce(t.name, ''), t.registered_on, t.industry, t.region, t.invoice_limit_fen,
                t.status, ids]) AS rows
