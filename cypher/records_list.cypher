// Every record of one kind in the order of first write.
MATCH (r:Record {kind: $kind})
RETURN r.data AS data
ORDER BY r.seq
