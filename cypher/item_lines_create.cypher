// (:Invoice)-[:HAS_LINE]->(:ItemLine) for each map of $lines (schema.ITEM_LINES fields, one per (key, line));
// lines whose invoice is not stored are dropped (no MATCH, no line).
UNWIND $lines AS l
MATCH (i:Invoice {key: l.key})
CREATE (i)-[:HAS_LINE]->(:ItemLine {key: l.key, line: l.line, item_name: l.item_name, item_code: l.item_code,
                                     spec: l.spec, unit: l.unit, quantity: l.quantity, unit_price: l.unit_price,
                                     amount_fen: l.amount_fen, rate: l.rate, tax_fen: l.tax_fen})
