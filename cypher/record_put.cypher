// Insert or replace one workflow record; `seq` keeps the order of first writes.
MERGE (c:Counter {name: 'record'})
SET c.n = coalesce(c.n, 0) + 1
WITH c
MERGE (r:Record {uid: $uid})
ON CREATE SET r.seq = c.n
SET r.kind = $kind, r.id = $id, r.data = $data
