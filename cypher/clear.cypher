// Delete every node and relationship in batches (schema, indexes and store-format markers stay). Auto-commit.
MATCH (n) WHERE NOT n:FapiaoMeta
CALL (n) {
    DETACH DELETE n
} IN TRANSACTIONS OF 10000 ROWS
