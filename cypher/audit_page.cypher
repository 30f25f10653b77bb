// Audit events newest first whose actor / action equal $actor / $action and whose target contains $target
// (null: any); $skip / $limit page through them.
MATCH (a:AuditEvent)
WHERE ($actor IS NULL OR a.actor = $actor) AND ($action IS NULL OR a.action = $action)
  AND ($target IS NULL OR a.target CONTAINS $target)
RETURN a.seq AS seq, a.at_us AS at_us, a.actor AS actor, a.role AS role, a.action AS action,
       a.target AS target, a.detail AS detail, a.prev_hash AS prev_hash, a.hash AS hash
ORDER BY a.seq DESC, a.hash DESC
SKIP $skip LIMIT $limit
