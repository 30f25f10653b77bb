// Set a store-format marker.
MERGE (m:FapiaoMeta {key: $key})
SET m.value = $value
