// Delete the item lines of the invoices $keys (before their lines are written again: a re-load replaces them).
UNWIND $keys AS k
MATCH (old:ItemLine {key: k})
DETACH DELETE old
