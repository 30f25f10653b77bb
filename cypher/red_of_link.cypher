// Link red-letter invoices to their blue originals wherever both are stored and the link is missing.
MATCH (red:Invoice) WHERE red.red_ref IS NOT NULL AND NOT (red)-[:RED_OF]->(:Invoice)
MATCH (blue:Invoice {key: red.red_ref})
MERGE (red)-[:RED_OF]->(blue)
