// Upsert (tax_id)-[:HAS]->(:Identifier {kind, value}) links; a missing taxpayer is created bare.
UNWIND range(0, size($tax_id) - 1) AS n
MERGE (t:Taxpayer {tax_id: $tax_id[n]})
MERGE (x:Identifier {kind: $kind[n], value: $value[n]})
MERGE (t)-[:HAS]->(x)
