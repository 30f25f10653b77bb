// A case record is also a (:Case) linked to the taxpayers, rings and invoices it concerns.
MATCH (c:Record {uid: $uid})
SET c:Case, c.title = $title, c.status = $status, c.owner = $owner
WITH c
CALL (c) {
    OPTIONAL MATCH (c)-[old:CONCERNS]->()
    DELETE old
}
CALL (c) {
    UNWIND $taxpayers AS tax_id
    MATCH (t:Taxpayer {tax_id: tax_id})
    MERGE (c)-[:CONCERNS]->(t)
}
CALL (c) {
    UNWIND $rings AS ring_id
    MATCH (r:Ring {id: ring_id})
    MERGE (c)-[:CONCERNS]->(r)
}
CALL (c) {
    UNWIND $invoices AS key
    MATCH (i:Invoice {key: key})
    MERGE (c)-[:CONCERNS]->(i)
}
RETURN c.uid AS uid
