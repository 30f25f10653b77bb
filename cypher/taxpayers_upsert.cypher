// Upsert taxpayers from parallel column lists; non-null values overwrite, nulls keep what is stored.
UNWIND range(0, size($tax_id) - 1) AS n
MERGE (t:Taxpayer {tax_id: $tax_id[n]})
SET t.name = coalesce($name[n], t.name),
    t.registered_on = coalesce($registered_on[n], t.registered_on),
    t.industry = coalesce($industry[n], t.industry),
    t.region = coalesce($region[n], t.region),
    t.invoice_limit_fen = coalesce($invoice_limit_fen[n], t.invoice_limit_fen),
    t.status = coalesce($status[n], t.status)
