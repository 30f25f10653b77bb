// Store-format markers (e.g. 'trades': the TRADES aggregates are maintained in this database).
MATCH (m:FapiaoMeta {key: $key})
RETURN m.value AS value
