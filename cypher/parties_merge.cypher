// Sellers and buyers named on invoices: create missing taxpayers with the name on the invoice.
// ON CREATE / ON MATCH (not a trailing SET) keeps the plan free of an Eager operator.
UNWIND range(0, size($tax_id) - 1) AS n
MERGE (t:Taxpayer {tax_id: $tax_id[n]})
ON CREATE SET t.name = $name[n]
ON MATCH SET t.name = coalesce(t.name, $name[n])
