// One workflow record's JSON data.
MATCH (r:Record {uid: $uid})
RETURN r.data AS data
