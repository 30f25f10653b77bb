// The item lines of invoice $invoice (its key), by line number, as one list of rows.
MATCH (l:ItemLine {key: $invoice})
WITH l ORDER BY l.line
RETURN collect([l.key, l.line, l.item_name, l.item_code, l.spec, l.unit, l.quantity, l.unit_price, l.amount_fen,
                l.rate, l.tax_fen]) AS rows
