// Delete every node and relationship in batches (schema and indexes stay). Auto-commit transaction.
MATCH (n)
CALL (n) {
    DETACH DELETE n
} IN TRANSACTIONS OF 10000 ROWS
