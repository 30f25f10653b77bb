// Audit events after $after_seq, in (seq, hash) order; $skip / $limit page through them.
MATCH (a:AuditEvent) WHERE a.seq > $after_seq
RETURN a.seq AS seq, a.at_us AS at_us, a.actor AS actor, a.role AS role, a.action AS action,
       a.target AS target, a.detail AS detail, a.prev_hash AS prev_hash, a.hash AS hash
ORDER BY a.seq, a.hash
SKIP $skip LIMIT $limit
