// Append audit events; the uniqueness constraint on seq makes a forked chain fail.
UNWIND $events AS e
CREATE (:AuditEvent {seq: e.seq, at: datetime({epochMillis: e.at_ms, timezone: $tz}),
                     at_us: e.at_us, actor: e.actor, role: e.role, action: e.action, target: e.target,
                     detail: e.detail, prev_hash: e.prev_hash, hash: e.hash})
