// Records of one kind whose JSON text contains every needle, in the order of first write: the prefilter of
// Store.records_page / records_count (the caller then checks the fields exactly).
MATCH (r:Record {kind: $kind})
WHERE all(n IN $needles WHERE r.data CONTAINS n)
RETURN r.data AS data
ORDER BY r.seq
