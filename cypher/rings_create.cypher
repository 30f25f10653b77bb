// Write the rings of a run and link them to their member taxpayers that exist.
UNWIND $rings AS row
MERGE (r:Ring {id: row.id})
SET r.run_id = row.run_id, r.kind = row.kind, r.score = row.score, r.evidence = row.evidence,
    r.members = row.members, r.invoice_keys = row.invoice_keys, r.details = row.details
WITH r, row
CALL (r) {
    OPTIONAL MATCH (r)-[m:MEMBER]->()
    DELETE m
}
WITH r, row
UNWIND row.members AS member
MATCH (t:Taxpayer {tax_id: member})
MERGE (r)-[:MEMBER]->(t)
