// How many audit events audit_page.cypher would give without $skip / $limit.
MATCH (a:AuditEvent)
WHERE ($actor IS NULL OR a.actor = $actor) AND ($action IS NULL OR a.action = $action)
  AND ($target IS NULL OR a.target CONTAINS $target)
RETURN count(a) AS n
