// Sellers and buyers named on invoices: create missing taxpayers with the name on the invoice.
UNWIND range(0, size($tax_id) - 1) AS n
MERGE (t:Taxpayer {tax_id: $tax_id[n]})
ON CREATE SET t.name = $name[n]
SET t.name = coalesce(t.name, $name[n])
