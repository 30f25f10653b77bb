"""Every SQL statement the embedded (DuckDB) workspace runs, by name. Parameters only, never formatting.

Times are stored as BIGINT epoch seconds (invoices) or ISO-8601 text with offset (runs, audit), so the
database needs no time-zone extension and datetimes round-trip exactly. ``_batch`` / ``_keys`` are arrow
tables registered on the connection for the duration of one statement group.
"""

from __future__ import annotations

#: Bump when the tables change, and add a migration to ``MIGRATIONS`` (from_version -> statements).
SCHEMA_VERSION = 2

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS taxpayers (
        tax_id VARCHAR PRIMARY KEY, name VARCHAR, registered_on DATE, industry VARCHAR, region VARCHAR,
        invoice_limit_fen BIGINT, status VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS invoices (
        key VARCHAR NOT NULL, number VARCHAR, code VARCHAR, issued_at BIGINT, seller_tax_id VARCHAR,
        seller_name VARCHAR, buyer_tax_id VARCHAR, buyer_name VARCHAR, amount_fen BIGINT, tax_fen BIGINT,
        total_fen BIGINT, rate DOUBLE, kind VARCHAR, status VARCHAR, red_ref VARCHAR, item_code VARCHAR,
        item_name VARCHAR, row_hash UBIGINT)""",
    # point lookups by key (invoice(), 查验 lookups by number go through the number column scan)
    "CREATE INDEX IF NOT EXISTS invoices_key ON invoices (key)",
    """CREATE TABLE IF NOT EXISTS identifiers (
        tax_id VARCHAR, kind VARCHAR, value VARCHAR, PRIMARY KEY (tax_id, kind, value))""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, created_at VARCHAR, created_epoch DOUBLE, params VARCHAR,
        fingerprint VARCHAR, stage_seconds VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS rings (
        ring_id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR, members VARCHAR[], invoice_keys VARCHAR[],
        score DOUBLE, evidence VARCHAR, details VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS ring_members (ring_id VARCHAR, run_id VARCHAR, tax_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS scores (
        run_id VARCHAR, tax_id VARCHAR, score DOUBLE, tier VARCHAR, reasons VARCHAR, features VARCHAR)""",
    "CREATE SEQUENCE IF NOT EXISTS record_order",
    """CREATE TABLE IF NOT EXISTS records (
        kind VARCHAR, rec_id VARCHAR, data VARCHAR, first_seq BIGINT, PRIMARY KEY (kind, rec_id))""",
    """CREATE TABLE IF NOT EXISTS record_links (
        kind VARCHAR, rec_id VARCHAR, target_kind VARCHAR, target_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, "at" VARCHAR, actor VARCHAR, role VARCHAR, action VARCHAR, target VARCHAR,
        detail VARCHAR, prev_hash VARCHAR, hash VARCHAR)""",
)


# invoices.row_hash is hash() of every other column, in table order (the same expression in INSERT_INVOICES,
# EXISTING_IN_BATCH and the migration): a re-load compares one number per row instead of 17 columns (a changed
# row hashing equal: chance 2**-64). Reads select "* EXCLUDE (row_hash)", the contract's columns.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # DuckDB cannot alter a table that has an index: drop it, add the column, rebuild it
    1: ("DROP INDEX IF EXISTS invoices_key", "ALTER TABLE invoices ADD COLUMN row_hash UBIGINT",
        """UPDATE invoices SET row_hash = hash(key, number, code, issued_at, seller_tax_id, seller_name, buyer_tax_id,
        buyer_name, amount_fen, tax_fen, total_fen, rate, kind, status, red_ref, item_code, item_name)""",
        "CREATE INDEX IF NOT EXISTS invoices_key ON invoices (key)"),
}

GET_META = "SELECT value FROM meta WHERE key = ?"
SET_META = "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
BUMP_DATA_VERSION = """
    INSERT INTO meta VALUES ('data_version', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"""

CLEAR: tuple[str, ...] = (
    "DELETE FROM invoices", "DELETE FROM identifiers", "DELETE FROM taxpayers", "DELETE FROM ring_members",
    "DELETE FROM rings", "DELETE FROM scores", "DELETE FROM runs", "DELETE FROM record_links",
    "DELETE FROM records", "DELETE FROM audit",
)

# --- writes ------------------------------------------------------------------------------------------
UPSERT_TAXPAYERS = """
    INSERT INTO taxpayers
    SELECT tax_id,
           arg_max(name, _rn) FILTER (WHERE name IS NOT NULL),
           arg_max(registered_on, _rn) FILTER (WHERE registered_on IS NOT NULL),
           arg_max(industry, _rn) FILTER (WHERE industry IS NOT NULL),
           arg_max(region, _rn) FILTER (WHERE region IS NOT NULL),
           arg_max(invoice_limit_fen, _rn) FILTER (WHERE invoice_limit_fen IS NOT NULL),
           arg_max(status, _rn) FILTER (WHERE status IS NOT NULL)
    FROM _batch WHERE tax_id IS NOT NULL AND tax_id <> '' GROUP BY tax_id
    ON CONFLICT (tax_id) DO UPDATE SET
        name = coalesce(excluded.name, taxpayers.name),
        registered_on = coalesce(excluded.registered_on, taxpayers.registered_on),
        industry = coalesce(excluded.industry, taxpayers.industry),
        region = coalesce(excluded.region, taxpayers.region),
        invoice_limit_fen = coalesce(excluded.invoice_limit_fen, taxpayers.invoice_limit_fen),
        status = coalesce(excluded.status, taxpayers.status)"""

INSERT_IDENTIFIERS = """
    INSERT INTO identifiers
    SELECT DISTINCT tax_id, kind, value FROM _batch
    WHERE tax_id IS NOT NULL AND tax_id <> '' AND kind IS NOT NULL AND value IS NOT NULL AND trim(value) <> ''
    ON CONFLICT DO NOTHING"""

ANY_KEY_IN_BATCH = "SELECT key FROM invoices WHERE key IN (SELECT key FROM _batch) LIMIT 1"
# Which batch keys are already stored, and whether the stored row is identical (then nothing is written).
EXISTING_IN_BATCH = """
    SELECT b.key, i.row_hash = b.row_hash AS same
    FROM (SELECT key, hash(key, number, code, issued_at, seller_tax_id, seller_name, buyer_tax_id,
        buyer_name, amount_fen, tax_fen, total_fen, rate, kind, status, red_ref, item_code, item_name) AS row_hash
          FROM _batch) b
    JOIN invoices i ON i.key = b.key"""
DELETE_INVOICES_IN_KEYS = "DELETE FROM invoices WHERE key IN (SELECT key FROM _keys)"
INSERT_INVOICES = """
    INSERT INTO invoices SELECT *, hash(key, number, code, issued_at, seller_tax_id, seller_name, buyer_tax_id,
        buyer_name, amount_fen, tax_fen, total_fen, rate, kind, status, red_ref, item_code, item_name) FROM _batch"""
# Is any seller/buyer of the batch not yet a taxpayer? (usually not, once the taxpayer file is in)
ANY_MISSING_PARTY = """
    SELECT 1 FROM (SELECT seller_tax_id AS tax_id FROM _batch UNION ALL SELECT buyer_tax_id FROM _batch) p
    WHERE tax_id IS NOT NULL AND tax_id <> '' AND NOT EXISTS (SELECT 1 FROM taxpayers t WHERE t.tax_id = p.tax_id)
    LIMIT 1"""
# Sellers/buyers not yet known, named after their latest invoice in the batch.
CREATE_PARTIES_FROM_INVOICES = """
    INSERT INTO taxpayers (tax_id, name)
    SELECT tax_id, arg_max(name, issued_at) FROM (
        SELECT seller_tax_id AS tax_id, seller_name AS name, issued_at FROM _batch
        UNION ALL
        SELECT buyer_tax_id, buyer_name, issued_at FROM _batch) p
    WHERE tax_id IS NOT NULL AND tax_id <> '' AND NOT EXISTS (SELECT 1 FROM taxpayers t WHERE t.tax_id = p.tax_id)
    GROUP BY tax_id
    ON CONFLICT DO NOTHING"""

DELETE_RUN_RINGS = "DELETE FROM rings WHERE run_id = ?"
DELETE_RUN_MEMBERS = "DELETE FROM ring_members WHERE run_id = ?"
DELETE_RUN_SCORES = "DELETE FROM scores WHERE run_id = ?"
DELETE_RINGS_BY_ID = "DELETE FROM rings WHERE ring_id IN (SELECT ring_id FROM _batch)"
DELETE_MEMBERS_BY_RING = "DELETE FROM ring_members WHERE ring_id IN (SELECT ring_id FROM _batch)"
UPSERT_RUN = """
    INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (run_id) DO UPDATE SET created_at = excluded.created_at, created_epoch = excluded.created_epoch,
        params = excluded.params, fingerprint = excluded.fingerprint, stage_seconds = excluded.stage_seconds"""
INSERT_RINGS = """
    INSERT INTO rings SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM _batch"""
INSERT_RING_MEMBERS = """
    INSERT INTO ring_members SELECT ring_id, run_id, unnest(members) FROM _batch"""
INSERT_SCORES = """
    INSERT INTO scores SELECT ?, tax_id, score, tier, reasons, features FROM _batch"""

UPSERT_RECORD = """
    INSERT INTO records VALUES (?, ?, ?, nextval('record_order'))
    ON CONFLICT (kind, rec_id) DO UPDATE SET data = excluded.data"""
DELETE_RECORD_LINKS = "DELETE FROM record_links WHERE kind = ? AND rec_id = ?"
INSERT_RECORD_LINK = "INSERT INTO record_links VALUES (?, ?, ?, ?)"

AUDIT_EXISTS = "SELECT count(*) FROM audit WHERE seq = ?"
INSERT_AUDIT = "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

# --- reads -------------------------------------------------------------------------------------------
COUNTS = """
    SELECT (SELECT count(*) FROM taxpayers), (SELECT count(*) FROM invoices), (SELECT count(*) FROM identifiers),
           (SELECT count(*) FROM runs), (SELECT count(*) FROM rings)"""

TAXPAYER = "SELECT tax_id, name, registered_on, industry, region, invoice_limit_fen, status FROM taxpayers WHERE tax_id = ?"
TAXPAYERS_ALL = """
    SELECT tax_id, name, registered_on, industry, region, invoice_limit_fen, status FROM taxpayers ORDER BY tax_id"""
TAXPAYERS_IN = """
    SELECT tax_id, name, registered_on, industry, region, invoice_limit_fen, status FROM taxpayers
    WHERE tax_id IN (SELECT key FROM _keys) ORDER BY tax_id"""
IDENTIFIERS_OF = "SELECT kind, value FROM identifiers WHERE tax_id = ? ORDER BY kind, value"
IDENTIFIERS_ALL = "SELECT tax_id, kind, value FROM identifiers ORDER BY tax_id, kind, value"
IDENTIFIERS_IN = """
    SELECT tax_id, kind, value FROM identifiers WHERE tax_id IN (SELECT key FROM _keys)
    ORDER BY tax_id, kind, value"""

INVOICE = "SELECT * EXCLUDE (row_hash) FROM invoices WHERE key = ?"
INVOICES_IN = "SELECT * EXCLUDE (row_hash) FROM invoices WHERE key IN (SELECT key FROM _keys) ORDER BY issued_at, key"
EXISTING_KEYS = "SELECT DISTINCT key FROM invoices WHERE key IN (SELECT key FROM _keys)"
LOOKUP_INVOICE = """
    SELECT * EXCLUDE (row_hash) FROM invoices
    WHERE number = ? AND (CAST(? AS VARCHAR) IS NULL OR code = ?) AND issued_at >= ? AND issued_at < ?
      AND (amount_fen = ? OR total_fen = ?)
    ORDER BY issued_at, key LIMIT 1"""

SEARCH = """
    SELECT tax_id, name, registered_on, industry, region, invoice_limit_fen, status FROM taxpayers
    WHERE tax_id = ? OR starts_with(tax_id, ?) OR contains(name, ?)
    ORDER BY (tax_id = ?) DESC, starts_with(tax_id, ?) DESC, name, tax_id
    LIMIT ?"""

# Window parameters: start, end as epoch seconds (sentinels when unbounded, so filters push down); [start, end).

INVOICES_BETWEEN = """
    SELECT * EXCLUDE (row_hash) FROM invoices
    WHERE ((seller_tax_id = ? AND buyer_tax_id = ?) OR (seller_tax_id = ? AND buyer_tax_id = ?))
      AND issued_at >= ? AND issued_at < ?
    ORDER BY issued_at, key"""
INVOICES_OF = """
    SELECT * EXCLUDE (row_hash) FROM invoices
    WHERE (seller_tax_id = ? OR buyer_tax_id = ?)
      AND issued_at >= ? AND issued_at < ?
    ORDER BY issued_at DESC, key DESC
    LIMIT ?"""
EDGE_TABLE = """
    SELECT seller_tax_id, buyer_tax_id, count(*) AS count, sum(total_fen)::BIGINT AS total_fen,
           min(issued_at) AS first_at, max(issued_at) AS last_at
    FROM invoices
    WHERE issued_at >= ? AND issued_at < ?
    GROUP BY seller_tax_id, buyer_tax_id
    ORDER BY seller_tax_id, buyer_tax_id"""
INVOICE_STREAM = """
    SELECT * EXCLUDE (row_hash) FROM invoices
    WHERE issued_at >= ? AND issued_at < ?
    ORDER BY issued_at, key"""

# Adjacency for ego networks / paths: node numbers are positions in the ordered tax-id list.
ADJ_EDGES = """
    WITH n AS (SELECT tax_id, (row_number() OVER (ORDER BY tax_id) - 1)::INTEGER AS nid FROM taxpayers)
    SELECT s.nid AS s, b.nid AS b, i.issued_at AS t, i.total_fen AS total, i.key AS key
    FROM invoices i JOIN n s ON s.tax_id = i.seller_tax_id JOIN n b ON b.tax_id = i.buyer_tax_id"""

RUNS = "SELECT run_id, created_at, params, fingerprint, stage_seconds FROM runs ORDER BY created_epoch DESC, run_id DESC"
NEWEST_RUN = "SELECT run_id FROM runs ORDER BY created_epoch DESC, run_id DESC LIMIT 1"
RINGS_OF_RUN = """
    SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM rings
    WHERE run_id = ? ORDER BY score DESC, ring_id"""
RING = "SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM rings WHERE ring_id = ?"
SCORES_OF_RUN = "SELECT tax_id, score, tier, reasons, features FROM scores WHERE run_id = ? ORDER BY score DESC, tax_id"

RECORD = "SELECT data FROM records WHERE kind = ? AND rec_id = ?"
RECORDS = "SELECT data FROM records WHERE kind = ? ORDER BY first_seq"
AUDIT_AFTER = """
    SELECT seq, "at", actor, role, action, target, detail, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq"""
