"""Every SQL statement the embedded (DuckDB) workspace runs, by name. Parameters only, never formatting.

Times are stored as BIGINT epoch seconds (invoices) or ISO-8601 text with offset (runs, audit), so the
database needs no time-zone extension and datetimes round-trip exactly. ``_batch`` / ``_keys`` / ``_new`` are
arrow tables registered on the connection for the duration of one statement group.

Invoice storage (schema version 3) is narrow, because compressing wide mostly-unique text columns was most of
the load time: sellers and buyers are INTEGER references to ``parties`` (each distinct (tax id, name) pair as
written on invoices, so every invoice keeps the exact name it carried); the key is not stored when it is the
derived ``code-number`` / ``number`` (``key_alt`` holds it otherwise); ``key_hash`` (hash of the key) serves
re-load checks as an 8-byte column join, and point lookups through the ART index :data:`KEY_INDEX`, which bulk
loads do not maintain: a big flush drops it and the next point lookup rebuilds it (maintaining it through a bulk
load cost more load time than the scans it saves). :data:`ROW` / :data:`ROWS_FROM` rebuild the contract's columns.
"""

# Statements are composed from the constant fragments below (ROW, ROWS_FROM, key_of(alias) ...) when this module
# is imported - never from data, which always travels as parameters or registered arrow tables.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence

#: Bump when the tables change, and add a migration to ``MIGRATIONS`` (from_version -> statements).
SCHEMA_VERSION = 3


def key_of(alias: str) -> str:
    """The contract key of stored invoice ``alias`` (an SQL expression; ``alias`` is a fixed table alias)."""
    return (f"coalesce({alias}.key_alt, CASE WHEN {alias}.code = '' THEN {alias}.number "
            f"ELSE {alias}.code || '-' || {alias}.number END)")


#: The derived key of a contract-layout row (``_batch`` or a v2 invoices row), for the key_alt test.
_DERIVED = "CASE WHEN code = '' THEN number ELSE code || '-' || number END"
#: hash() of every contract column in contract order: a re-load compares one number per row (a changed row
#: hashing equal: chance 2**-64). Computed from contract-layout rows only.
ROW_HASH = """hash(key, number, code, issued_at, seller_tax_id, seller_name, buyer_tax_id, buyer_name, amount_fen,
    tax_fen, total_fen, rate, kind, status, red_ref, item_code, item_name)"""
INVOICE_COLUMNS = """number VARCHAR, code VARCHAR, issued_at BIGINT, seller INTEGER, buyer INTEGER, amount_fen BIGINT,
        tax_fen BIGINT, total_fen BIGINT, rate DOUBLE, kind VARCHAR, status VARCHAR, red_ref VARCHAR,
        item_code VARCHAR, item_name VARCHAR, key_alt VARCHAR, key_hash UBIGINT NOT NULL, row_hash UBIGINT"""
#: contract-layout rows with seller/buyer party numbers → storage columns, in table order
_STORED = f"""number, code, issued_at, seller, buyer, amount_fen, tax_fen, total_fen, rate, kind, status, red_ref,
    item_code, item_name, CASE WHEN key IS DISTINCT FROM ({_DERIVED}) THEN key END, hash(key), {ROW_HASH}"""

#: The contract's invoice columns of stored invoice ``i`` (with its parties ``s`` and ``b``).
ROW = f"""{key_of('i')} AS key, i.number, i.code, i.issued_at, s.tax_id AS seller_tax_id, s.name AS seller_name,
    b.tax_id AS buyer_tax_id, b.name AS buyer_name, i.amount_fen, i.tax_fen, i.total_fen, i.rate, i.kind,
    i.status, i.red_ref, i.item_code, i.item_name"""
ROWS_FROM = "invoices i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer"

# Arrow sort keys of the ordered reads that can span several DuckDB chunks (2,048 rows), re-applied after the fetch:
# with preserve_insertion_order off, DuckDB 1.2-1.5 have returned such ORDER BY results through Arrow with whole
# chunks out of order now and then (tests/graph/test_ordered_reads.py). Each matches its query's ORDER BY.
Order = tuple[tuple[str, str], ...]
BY_TIME_KEY: Order = (("issued_at", "ascending"), ("key", "ascending"))
BY_TIME_KEY_DESC: Order = (("issued_at", "descending"), ("key", "descending"))
BY_TAX_ID: Order = (("tax_id", "ascending"),)
BY_TAX_ID_KIND_VALUE: Order = (("tax_id", "ascending"), ("kind", "ascending"), ("value", "ascending"))
BY_SCORE: Order = (("score", "descending"), ("tax_id", "ascending"))
BY_MONTH: Order = (("month", "ascending"),)

DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS taxpayers (
        tax_id VARCHAR PRIMARY KEY, name VARCHAR, registered_on DATE, industry VARCHAR, region VARCHAR,
        invoice_limit_fen BIGINT, status VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS parties (pid INTEGER PRIMARY KEY, tax_id VARCHAR, name VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS invoices ({INVOICE_COLUMNS})",
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
    """CREATE TABLE IF NOT EXISTS item_lines (
        key VARCHAR, line INTEGER, item_name VARCHAR, item_code VARCHAR, spec VARCHAR, unit VARCHAR, quantity DOUBLE,
        unit_price VARCHAR, amount_fen BIGINT, rate DOUBLE, tax_fen BIGINT, PRIMARY KEY (key, line))""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, "at" VARCHAR, actor VARCHAR, role VARCHAR, action VARCHAR, target VARCHAR,
        detail VARCHAR, prev_hash VARCHAR, hash VARCHAR)""",
)


def _rebuild_invoices(contract_rows: str) -> tuple[str, ...]:
    """Statements replacing the invoices table by ``contract_rows`` (contract columns + seller, buyer) stored."""
    return (f"CREATE TABLE invoices_new ({INVOICE_COLUMNS})",
            f"INSERT INTO invoices_new SELECT {_STORED} FROM ({contract_rows})",
            # DuckDB cannot drop a table that has an index: drop the index first (whatever its version named it)
            "DROP INDEX IF EXISTS invoices_key", "DROP INDEX IF EXISTS invoices_key_hash", "DROP TABLE invoices",
            "ALTER TABLE invoices_new RENAME TO invoices")


MIGRATIONS: dict[int, tuple[str, ...]] = {
    # v1 → v2: add row_hash (DuckDB cannot alter a table that has an index: drop it, add the column, rebuild it)
    1: ("DROP INDEX IF EXISTS invoices_key", "ALTER TABLE invoices ADD COLUMN row_hash UBIGINT",
        f"UPDATE invoices SET row_hash = {ROW_HASH}",
        "CREATE INDEX IF NOT EXISTS invoices_key ON invoices (key)"),
    # v2 → v3: sellers/buyers become references to parties, the derived key is no longer stored
    2: ("CREATE TABLE IF NOT EXISTS parties (pid INTEGER PRIMARY KEY, tax_id VARCHAR, name VARCHAR)",
        """INSERT INTO parties SELECT (row_number() OVER (ORDER BY tax_id, name) - 1)::INTEGER, tax_id, name FROM (
            SELECT DISTINCT tax_id, name FROM (SELECT seller_tax_id AS tax_id, seller_name AS name FROM invoices
                                               UNION ALL SELECT buyer_tax_id, buyer_name FROM invoices))""",
        *_rebuild_invoices("""SELECT v.* EXCLUDE (row_hash), s.pid AS seller, b.pid AS buyer FROM invoices v
            JOIN parties s ON s.tax_id IS NOT DISTINCT FROM v.seller_tax_id AND s.name IS NOT DISTINCT FROM v.seller_name
            JOIN parties b ON b.tax_id IS NOT DISTINCT FROM v.buyer_tax_id AND b.name IS NOT DISTINCT FROM v.buyer_name""")),
}

#: DuckDB's hash() may differ between DuckDB releases: the workspace records hash(HASH_PROBE) and recomputes
#: key_hash / row_hash when the running DuckDB hashes differently.
HASH_PROBE = "SELECT hash('fapiao hash probe')::VARCHAR"
REHASH: tuple[str, ...] = _rebuild_invoices(f"SELECT {ROW}, i.seller, i.buyer FROM {ROWS_FROM}")

#: what a process that already prepared this workspace re-checks when it opens it again (see embedded._Database)
META_READY = "SELECT key, value FROM meta WHERE key IN ('schema_version', 'hash_probe') ORDER BY key"
GET_META = "SELECT value FROM meta WHERE key = ?"
SET_META = "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
BUMP_DATA_VERSION = """
    INSERT INTO meta VALUES ('data_version', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS VARCHAR)"""
#: the same bump when the row exists (it does once the schema is prepared), giving the new version: a plain UPDATE
#: costs DuckDB ≈ 0.6 ms where the upsert costs ≈ 4 (ON CONFLICT), once per writer transaction
BUMP_DATA_VERSION_RETURNING = """
    UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version' RETURNING value"""

CLEAR: tuple[str, ...] = (
    "DELETE FROM invoices", "DELETE FROM parties", "DELETE FROM identifiers", "DELETE FROM taxpayers",
    "DELETE FROM ring_members", "DELETE FROM rings", "DELETE FROM scores", "DELETE FROM runs",
    "DELETE FROM record_links", "DELETE FROM records", "DELETE FROM audit", "DELETE FROM item_lines",
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

# Parties are matched by two independent hashes of (tax_id, name) (see graph.embedded_parties); the batch's
# key hashes come along to spot repeated keys without hashing the key strings again.
_CHECK = "hash(coalesce({t}, chr(0)) || chr(31) || coalesce({n}, chr(0)))"
PARTIES_ALL = f"SELECT pid, hash(tax_id, name) AS code, {_CHECK.format(t='tax_id', n='name')} AS check FROM parties"
PARTY_PAIRS = "SELECT pid, tax_id, name FROM parties"
BATCH_CODES = f"""
    SELECT _rn, hash(key) AS k, hash(seller_tax_id, seller_name) AS s, hash(buyer_tax_id, buyer_name) AS b,
           {_CHECK.format(t='seller_tax_id', n='seller_name')} AS sc, {_CHECK.format(t='buyer_tax_id', n='buyer_name')} AS bc
    FROM _sides"""
# _new: parties first seen in this batch (pid, tax_id, name, last_at = their latest invoice in the batch)
INSERT_PARTIES = "INSERT INTO parties SELECT pid, tax_id, name FROM _new"
# Sellers/buyers not yet taxpayers, named after their latest invoice in the batch.
# No ON CONFLICT clause: NOT EXISTS and GROUP BY already leave only tax ids not stored, and no other connection
# writes inside the writer's transaction (one writer per process, one process at a time); ON CONFLICT made the
# statement ≈ 2x dearer (≈ 8 → 15 ms at load 8), and it runs in every API group that meets a new (tax id, name).
CREATE_TAXPAYERS_FROM_PARTIES = """
    INSERT INTO taxpayers (tax_id, name)
    SELECT tax_id, arg_max(name, last_at) FROM _new p
    WHERE tax_id IS NOT NULL AND tax_id <> '' AND NOT EXISTS (SELECT 1 FROM taxpayers t WHERE t.tax_id = p.tax_id)
    GROUP BY tax_id"""

TAXPAYER_IDS = "SELECT tax_id FROM taxpayers"

ANY_KEY_IN_BATCH = "SELECT 1 FROM invoices WHERE key_hash IN (SELECT hash(key) FROM _batch) LIMIT 1"
# the stored-key checks' in-memory hashes (graph/embedded_keys.py): all stored, and those of a _keys table
COUNT_INVOICES = "SELECT count(*) FROM invoices"
STORED_KEY_HASHES = "SELECT key_hash FROM invoices"
KEYS_HASHED = "SELECT hash(key) AS h FROM _keys"
# Which batch keys are already stored, and whether the stored row is identical (then nothing is written).
EXISTING_IN_BATCH = f"""
    SELECT b.key, i.row_hash = b.row_hash AS same
    FROM (SELECT key, hash(key) AS key_hash, {ROW_HASH} AS row_hash FROM _batch) b
    JOIN invoices i ON i.key_hash = b.key_hash AND {key_of('i')} = b.key"""
DELETE_INVOICES_IN_KEYS = f"""
    DELETE FROM invoices WHERE key_hash IN (SELECT hash(key) FROM _keys)
      AND {key_of('invoices')} IN (SELECT key FROM _keys)"""
# _batch: contract columns plus seller / buyer party numbers
INSERT_INVOICES = f"INSERT INTO invoices SELECT {_STORED} FROM _batch"

#: item lines (schema.ITEM_LINES + _rn): a batch replaces the lines of its keys; the last row of a (key, line) wins;
#: lines of invoices not stored are dropped
ITEM_LINE_COLUMNS = "key, line, item_name, item_code, spec, unit, quantity, unit_price, amount_fen, rate, tax_fen"
DELETE_ITEM_LINES_OF_BATCH = "DELETE FROM item_lines WHERE key IN (SELECT DISTINCT key FROM _batch)"
INSERT_ITEM_LINES = f"""
    INSERT INTO item_lines SELECT {ITEM_LINE_COLUMNS} FROM (
        SELECT *, row_number() OVER (PARTITION BY key, line ORDER BY _rn DESC) AS _last FROM _batch
        WHERE key IS NOT NULL AND line IS NOT NULL)
    WHERE _last = 1 AND hash(key) IN (SELECT key_hash FROM invoices)"""
ITEM_LINES_OF = f"SELECT {ITEM_LINE_COLUMNS} FROM item_lines WHERE key = ? ORDER BY line"

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

# Point lookup (Store.invoice, the API's 查验): the rows whose key_hash matches, through the ART index
# KEY_INDEX when it exists (a sequential scan of key_hash otherwise), without joins - the party join planned a
# hash join over all parties, ~10x the cost of the lookup itself - then the two parties by their primary key.
# Parameter: the key. The caller compares the derived key (hash collisions).
INVOICE_BY_HASH = f"""
    SELECT {key_of('i')} AS key, i.number, i.code, i.issued_at, i.seller, i.buyer, i.amount_fen, i.tax_fen,
           i.total_fen, i.rate, i.kind, i.status, i.red_ref, i.item_code, i.item_name
    FROM invoices i WHERE i.key_hash = hash(?::VARCHAR)"""
PARTIES_BY_PID = "SELECT pid, tax_id, name FROM parties WHERE pid IN (?, ?)"
#: The index behind INVOICE_BY_HASH. Built by the first point lookup after a load (never during one: maintaining
#: it through a bulk load cost more than the load saves); a writer flushing a big batch drops it first.
KEY_INDEX = "invoices_key_hash"
HAS_KEY_INDEX = f"SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'invoices' AND index_name = '{KEY_INDEX}'"
CREATE_KEY_INDEX = f"CREATE INDEX IF NOT EXISTS {KEY_INDEX} ON invoices (key_hash)"
DROP_KEY_INDEX = f"DROP INDEX IF EXISTS {KEY_INDEX}"
INVOICES_IN = f"""
    SELECT {ROW} FROM {ROWS_FROM}
    WHERE i.key_hash IN (SELECT hash(key) FROM _keys) AND {key_of('i')} IN (SELECT key FROM _keys)
    ORDER BY i.issued_at, 1"""
EXISTING_KEYS = f"""
    SELECT DISTINCT {key_of('i')} AS key FROM invoices i
    WHERE i.key_hash IN (SELECT hash(key) FROM _keys) AND {key_of('i')} IN (SELECT key FROM _keys)"""
LOOKUP_INVOICE = f"""
    SELECT {ROW} FROM {ROWS_FROM}
    WHERE i.number = ? AND (CAST(? AS VARCHAR) IS NULL OR i.code = ?) AND i.issued_at >= ? AND i.issued_at < ?
      AND (i.amount_fen = ? OR i.total_fen = ?)
    ORDER BY i.issued_at, 1 LIMIT 1"""

SEARCH = """
    SELECT tax_id, name, registered_on, industry, region, invoice_limit_fen, status FROM taxpayers
    WHERE tax_id = ? OR starts_with(tax_id, ?) OR contains(name, ?)
    ORDER BY (tax_id = ?) DESC, starts_with(tax_id, ?) DESC, name, tax_id
    LIMIT ?"""

# Window parameters: start, end as epoch seconds (sentinels when unbounded, so filters push down); [start, end).
# $1 / $2: the party numbers of taxpayer a / b. Joining the invoices to that tiny list (instead of a function
# filter) lets DuckDB push "seller IN (...)" into the scan, so only matching rows are read; the few rows found
# are materialised before the party joins. Measured at 10M: ~0.05-0.15 s instead of ~1.5 s.
_MATCHING = """
    WITH a AS (SELECT unnest($1::INTEGER[]) AS pid),
    i AS {materialized} (
        SELECT v.* FROM a JOIN invoices v ON v.seller = a.pid
        WHERE {seller_side} AND v.issued_at >= {start} AND v.issued_at < {end}
        UNION ALL
        SELECT v.* FROM a JOIN invoices v ON v.buyer = a.pid
        WHERE {buyer_side} AND v.issued_at >= {start} AND v.issued_at < {end})"""
INVOICES_BETWEEN = _MATCHING.format(
    materialized="MATERIALIZED", seller_side="list_contains($2::INTEGER[], v.buyer)", start="$3", end="$4",
    buyer_side="list_contains($2::INTEGER[], v.seller) "
               "AND NOT (list_contains($1::INTEGER[], v.seller) AND list_contains($2::INTEGER[], v.buyer))") + f"""
    SELECT {ROW} FROM i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer
    ORDER BY i.issued_at, 1"""
# newest first: the top rows are picked before the party joins (a hub has millions of invoices)
INVOICES_OF = _MATCHING.format(
    materialized="", seller_side="true", start="$2", end="$3",
    buyer_side="NOT list_contains($1::INTEGER[], v.seller)") + f""",
    top AS MATERIALIZED (SELECT * FROM i ORDER BY issued_at DESC, {key_of('i')} DESC LIMIT $4)
    SELECT {ROW} FROM top i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer
    ORDER BY i.issued_at DESC, 1 DESC"""
PIDS_OF = "SELECT list(pid ORDER BY pid) FROM parties WHERE tax_id = ?"
# EmbeddedStore.invoices_touching: every invoice whose seller or buyer is one of the taxpayers in _keys (the fast
# update's read: the party numbers first, then the invoices joined to that short list, as _MATCHING)
INVOICES_TOUCHING = f"""
    WITH a AS MATERIALIZED (SELECT pid FROM parties WHERE tax_id IN (SELECT key FROM _keys)),
    i AS MATERIALIZED (
        SELECT v.* FROM a JOIN invoices v ON v.seller = a.pid
        UNION ALL
        SELECT v.* FROM a JOIN invoices v ON v.buyer = a.pid WHERE v.seller NOT IN (SELECT pid FROM a))
    SELECT {ROW} FROM i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer
    ORDER BY i.issued_at, 1"""


def invoices_touching_lean(columns: Sequence[str]) -> str:
    """:data:`INVOICES_TOUCHING` for some contract columns only (the fast update's lean read: its hubs bring hundreds
    of thousands of rows, and every column read costs), unordered: the caller sorts by time and key in Arrow, as it
    re-sorts every ordered read anyway (DuckDB's ORDER BY here cost 0.3 s of 0.6 at 505,787 rows). ``columns``
    are contract column names (the caller checks them: composed from names, never from data)."""
    party = {"seller_tax_id": "s.tax_id", "seller_name": "s.name", "buyer_tax_id": "b.tax_id", "buyer_name": "b.name"}
    stored: dict[str, None] = dict.fromkeys(["seller", "buyer"])
    exprs = []
    for c in columns:
        if c == "key":
            stored.update(dict.fromkeys(["key_alt", "code", "number"]))
            exprs.append(f"{key_of('i')} AS key")
        elif c in party:
            exprs.append(f"{party[c]} AS {c}")
        else:
            stored[c] = None
            exprs.append(f"i.{c}")
    cols = ", ".join(f"v.{c}" for c in stored)
    return f"""
    WITH a AS MATERIALIZED (SELECT pid FROM parties WHERE tax_id IN (SELECT key FROM _keys)),
    i AS MATERIALIZED (
        SELECT {cols} FROM a JOIN invoices v ON v.seller = a.pid
        UNION ALL
        SELECT {cols} FROM a JOIN invoices v ON v.buyer = a.pid WHERE v.seller NOT IN (SELECT pid FROM a))
    SELECT {", ".join(exprs)} FROM i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer"""


# EmbeddedStore.taxpayer_digests: per taxpayer, its invoices (as seller or buyer) and an order-free XOR of their row
# hashes (every contract column): a new, voided or corrected invoice changes both of its parties' digests
TAXPAYER_DIGESTS = """
    WITH e AS (SELECT seller AS pid, coalesce(row_hash, key_hash) AS h FROM invoices
               UNION ALL SELECT buyer, coalesce(row_hash, key_hash) FROM invoices WHERE buyer <> seller)
    SELECT p.tax_id, count(*)::BIGINT AS n, bit_xor(e.h)::UBIGINT AS h
    FROM e JOIN parties p ON p.pid = e.pid GROUP BY p.tax_id ORDER BY p.tax_id"""
# Store.invoice_months: $1 / $2 the window (epoch seconds), $3 the zone's offset from UTC in seconds (fixed: the
# contract's zone, Asia/Shanghai, has kept +08:00 since 1991); the month of each local issue time.
INVOICE_MONTHS = """
    SELECT strftime(make_timestamp((issued_at + $3) * 1000000), '%Y-%m') AS month, count(*)::BIGINT AS count,
           coalesce(sum(total_fen), 0)::BIGINT AS total_fen
    FROM invoices WHERE issued_at >= $1 AND issued_at < $2 GROUP BY month ORDER BY month"""
# Store.invoices_of_page / invoices_of_tally, one side of a taxpayer's invoices: $1 its party numbers, $2 / $3 the
# window, $4 minimum total (fen); the page adds $5 limit, $6 offset (the page is picked before the party joins).
_SIDE = """
    WITH a AS (SELECT unnest($1::INTEGER[]) AS pid),
    i AS (SELECT v.* FROM a JOIN invoices v ON v.{side} = a.pid
          WHERE {other} v.issued_at >= $2 AND v.issued_at < $3 AND ($4 <= 0 OR v.total_fen >= $4))"""
_SIDES = {"issued": _SIDE.format(side="seller", other=""),
          "received": _SIDE.format(side="buyer", other="NOT list_contains($1::INTEGER[], v.seller) AND")}
INVOICES_OF_SIDE = {side: text + f""",
    top AS MATERIALIZED (SELECT * FROM i ORDER BY issued_at DESC, {key_of('i')} DESC LIMIT $5 OFFSET $6)
    SELECT {ROW} FROM top i JOIN parties s ON s.pid = i.seller JOIN parties b ON b.pid = i.buyer
    ORDER BY i.issued_at DESC, 1 DESC""" for side, text in _SIDES.items()}
INVOICES_OF_TALLY = {side: text + "\n    SELECT count(*), coalesce(sum(total_fen), 0)::BIGINT FROM i"
                     for side, text in _SIDES.items()}

EDGE_TABLE = """
    WITH e AS (
        SELECT seller, buyer, count(*) AS n, sum(total_fen) AS total, min(issued_at) AS first_at,
               max(issued_at) AS last_at
        FROM invoices WHERE issued_at >= ? AND issued_at < ? GROUP BY seller, buyer)
    SELECT s.tax_id AS seller_tax_id, b.tax_id AS buyer_tax_id, sum(e.n)::BIGINT AS count,
           sum(e.total)::BIGINT AS total_fen, min(e.first_at) AS first_at, max(e.last_at) AS last_at
    FROM e JOIN parties s ON s.pid = e.seller JOIN parties b ON b.pid = e.buyer
    GROUP BY s.tax_id, b.tax_id
    ORDER BY seller_tax_id, buyer_tax_id"""
INVOICE_STREAM = f"""
    SELECT {ROW} FROM {ROWS_FROM}
    WHERE i.issued_at >= ? AND i.issued_at < ?
    ORDER BY i.issued_at, 1"""

# Adjacency for ego networks / paths: party numbers → taxpayer node numbers in numpy (graph.embedded_adjacency)
ADJ_PARTIES = "SELECT pid, tax_id FROM parties"
ADJ_EDGES = "SELECT seller AS s, buyer AS b, issued_at AS t, total_fen AS total FROM invoices"

RUNS = "SELECT run_id, created_at, params, fingerprint, stage_seconds FROM runs ORDER BY created_epoch DESC, run_id DESC"
NEWEST_RUN = "SELECT run_id FROM runs ORDER BY created_epoch DESC, run_id DESC LIMIT 1"
RINGS_OF_RUN = """
    SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM rings
    WHERE run_id = ? ORDER BY score DESC, ring_id"""
RING = "SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM rings WHERE ring_id = ?"
SCORES_OF_RUN = "SELECT tax_id, score, tier, reasons, features FROM scores WHERE run_id = ? ORDER BY score DESC, tax_id"

# Store.rings_page / rings_count: $1 run id, $2 kinds (NULL: any), $3 minimum score, $4 minimum total (fen),
# $5 / $6 the window [start, end) in epoch seconds (NULL: unbounded) the span of the ring's stored invoices must
# meet; the page adds $7 limit, $8 offset. A ring's keys are looked up by key_hash, then compared whole.
_RING_ROWS = """
    WITH r AS MATERIALIZED (
        SELECT ring_id, run_id, kind, members, invoice_keys, score, evidence, details FROM rings
        WHERE run_id = $1 AND ($2::VARCHAR[] IS NULL OR list_contains($2::VARCHAR[], kind)) AND score >= $3),
    k AS (SELECT ring_id, unnest(invoice_keys) AS key FROM r),
    st AS (SELECT k.ring_id, min(i.issued_at) AS first_at, max(i.issued_at) AS last_at, sum(i.total_fen) AS fen
           FROM k JOIN invoices i ON i.key_hash = hash(k.key) AND KEY_OF_I = k.key GROUP BY k.ring_id),
    x AS (SELECT r.*, st.first_at, st.last_at, coalesce(st.fen, 0)::BIGINT AS fen FROM r LEFT JOIN st USING (ring_id))
    SELECT WHAT FROM x
    WHERE fen >= $4 AND ($5::BIGINT IS NULL OR last_at >= $5) AND ($6::BIGINT IS NULL OR first_at < $6)""".replace(
    "KEY_OF_I", key_of("i"))
RINGS_PAGE = _RING_ROWS.replace("WHAT", "ring_id, run_id, kind, members, invoice_keys, score, evidence, details, "
                                        "first_at, last_at, fen") + " ORDER BY score DESC, ring_id LIMIT $7 OFFSET $8"
RINGS_COUNT = _RING_ROWS.replace("WHAT", "count(*)")
RING_KINDS = "SELECT kind, count(*) FROM rings WHERE run_id = ? GROUP BY kind ORDER BY kind"
# Store.scores_page / scores_count: $1 run id; $2 / $3 tax ids and tiers of the overrides (the tier in force);
# $4 tiers (on the tier in force), $5 minimum score, $6 industries, $7 regions (lists: NULL is any); $8 text (name
# contains it or tax id starts with it; NULL: any), $9 tax ids (NULL: any); the page adds $10 limit, $11 offset.
_SCORED = """
    WITH ov AS (SELECT unnest($2::VARCHAR[]) AS tax_id, unnest($3::VARCHAR[]) AS tier)
    SELECT WHAT FROM scores s LEFT JOIN taxpayers t ON t.tax_id = s.tax_id LEFT JOIN ov ON ov.tax_id = s.tax_id
    WHERE s.run_id = $1 AND ($4::VARCHAR[] IS NULL OR list_contains($4::VARCHAR[], coalesce(ov.tier, s.tier)))
      AND s.score >= $5 AND ($6::VARCHAR[] IS NULL OR list_contains($6::VARCHAR[], t.industry))
      AND ($7::VARCHAR[] IS NULL OR list_contains($7::VARCHAR[], t.region))
      AND ($8::VARCHAR IS NULL OR contains(coalesce(t.name, ''), $8) OR starts_with(s.tax_id, $8))
      AND ($9::VARCHAR[] IS NULL OR list_contains($9::VARCHAR[], s.tax_id))"""
SCORES_PAGE = _SCORED.replace("WHAT", "s.tax_id, s.score, s.tier, s.reasons, s.features, t.name, t.industry, "
                                      "t.region") + " ORDER BY s.score DESC, s.tax_id LIMIT $10 OFFSET $11"
SCORES_COUNT = _SCORED.replace("WHAT", "count(*)")
SCORE_FACETS = """
    SELECT list(DISTINCT t.industry) FILTER (WHERE t.industry IS NOT NULL),
           list(DISTINCT t.region) FILTER (WHERE t.region IS NOT NULL)
    FROM scores s JOIN taxpayers t ON t.tax_id = s.tax_id WHERE s.run_id = ?"""

RECORD = "SELECT data FROM records WHERE kind = ? AND rec_id = ?"
RECORDS = "SELECT data FROM records WHERE kind = ? ORDER BY first_seq"
# Store.records_page / records_count: fields are JSON paths ('$.name') given as parameters, like their values;
# only the number of conditions varies, and it picks one of these fixed fragments per condition.
FIELD_EQUALS = "json_extract_string(data, ?) = ?"
FIELD_UNSET = "json_extract_string(data, ?) IS NULL"
BY_FIELD_DESC = "json_extract_string(data, ?) DESC"


def records_page(equals: int, unset: int, newest: int, *, count: bool = False) -> str:
    """The records_page (or, with ``count``, records_count) statement for that many conditions / order fields.
    Parameters: kind, (path, value) per equality, path per unset field, path per order field, limit."""
    where = " AND ".join(["kind = ?", *[FIELD_EQUALS] * equals, *[FIELD_UNSET] * unset])
    if count:
        return f"SELECT count(*) FROM records WHERE {where}"
    order = ", ".join([*[BY_FIELD_DESC] * newest, "first_seq"])
    return f"SELECT data FROM records WHERE {where} ORDER BY {order} LIMIT ?"
AUDIT_MATCH = """($1::VARCHAR IS NULL OR actor = $1) AND ($2::VARCHAR IS NULL OR action = $2)
    AND ($3::VARCHAR IS NULL OR strpos(target, $3) > 0)"""
AUDIT_PAGE = f"""
    SELECT seq, "at", actor, role, action, target, detail, prev_hash, hash FROM audit WHERE {AUDIT_MATCH}
    ORDER BY seq DESC, hash DESC LIMIT $4 OFFSET $5"""
AUDIT_COUNT = f"SELECT count(*) FROM audit WHERE {AUDIT_MATCH}"
AUDIT_AFTER = """
    SELECT seq, "at", actor, role, action, target, detail, prev_hash, hash FROM audit WHERE seq > ?
    ORDER BY seq, hash LIMIT ? OFFSET ?"""
