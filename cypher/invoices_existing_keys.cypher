// Which of $keys are already stored.
UNWIND $keys AS k
MATCH (i:Invoice {key: k})
RETURN collect(i.key) AS keys
