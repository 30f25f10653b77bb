"""The Neo4j backend of the store contract (any Neo4j 5.x: local, server, cluster, Aura).

The only module that imports ``neo4j``. Every statement comes from ``cypher/NAME.cypher`` and is run
with parameters only, inside managed transactions (the driver retries transient errors). Driver errors
are re-raised as :class:`graph.core.errors.QueryError` naming the statement.

Storage notes: invoice times are stored twice, as ``ts`` (epoch seconds, indexed, used by every query)
and ``issued_at`` (a Neo4j DateTime in Asia/Shanghai, for people querying the graph directly). Seller and
buyer tax ids are also kept on the invoice node so window scans never expand relationships. Each trading
pair has one ``(seller)-[:TRADES]->(buyer)`` aggregate (count / total / first / last over all its invoices,
``pos_*`` over those with total_fen >= 0), kept exact in the same transaction as the invoices: ego networks
without a window walk TRADES, the whole-period edge table reads it. Bulk rows travel as parallel column lists
(``UNWIND range(0, size($key) - 1)``), which is cheaper to encode than one map per row; large results come
back as parallel lists too.

Read procedures: when the server has the ``fapiao.*`` jar built in tools/neo4j-local (the local launcher loads it;
any Neo4j 5.x can install it in ``plugins/``) at :data:`PROCEDURES_VERSION`, ego networks without a window and the
whole-period edge table run as one procedure call each, whose edge columns come back as packed little-endian
bytes. Otherwise (Aura, a server without the jar, ``FAPIAO_NEO4J_PROCEDURES=off``) the same reads run as Cypher.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import neo4j
import numpy as np
import pyarrow as pa
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

import cypher
from graph.core import schema, settings
from graph.core.errors import ConfigError, QueryError, StoreError
from graph.core.model import (
    ANY_RING,
    ANY_SCORE,
    AuditEvent,
    Counts,
    Invoice,
    Ring,
    RingQuery,
    RingRow,
    Run,
    ScoreQuery,
    Subgraph,
    Taxpayer,
)
from graph.lists import check_side, epoch_local, list_param
from graph.neo4j_writer import INVOICE_COLUMNS, TZ, Neo4jWriter, record_uid, statement
from graph.store import NO_LIMIT, Store, Writer, check_fields, page_of

__all__ = ["Neo4jStore", "connectable"]

MIN_TS = -(2**62)
MAX_TS = 2**62
STREAM_PAGE = 50_000
MAX_EGO_HOPS = 3            # rings of the one-statement ego network (ego_trades / ego_invoices)
TRADES_FORMAT = "1"         # FapiaoMeta 'trades': TRADES aggregates are maintained by every writer
PROCEDURES_VERSION = "1"    # fapiao.version() of the tools/neo4j-local procedures this client understands
_NEO4J_ERRORS = (Neo4jError, DriverError, ServiceUnavailable)


def connectable(uri: str, *, auth: tuple[str, str] | None = None, timeout: float = 3.0) -> bool:
    """True when a Neo4j at ``uri`` accepts a Bolt connection (used to wait for a starting server)."""
    try:
        with neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=timeout) as driver:
            driver.verify_connectivity()
        return True
    except (_NEO4J_ERRORS + (OSError,)):
        return False


def schema_statements() -> list[str]:
    """The statements of ``cypher/schema.cypher`` (comment lines dropped, split on ``;``)."""
    text = "\n".join(line for line in cypher.load("schema").splitlines() if not line.lstrip().startswith("//"))
    return [s.strip() for s in text.split(";") if s.strip()]


def _ts(value: datetime | None, default: int) -> int:
    if value is None:
        return default
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(settings.get("FAPIAO_TIMEZONE")))
    return int(value.timestamp())



def _from_us(us: int) -> datetime:
    return (datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(microseconds=us)).astimezone(TZ)


def _native(value: Any) -> Any:
    """Neo4j temporal values to Python ones (dates come back as ``neo4j.time.Date``)."""
    to_native = getattr(value, "to_native", None)
    return to_native() if to_native is not None else value



def _invoice_table(rows: list[list[Any]]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in INVOICE_COLUMNS]
    arrays = []
    for name, values in zip(INVOICE_COLUMNS, cols, strict=True):
        typ = schema.INVOICES.field(name).type
        if name == "issued_at":
            arrays.append(pa.array(values, pa.int64()).cast(typ))
        elif name == "code":
            arrays.append(pa.array([v or "" for v in values], typ))
        else:
            arrays.append(pa.array(values, typ))
    return pa.Table.from_arrays(arrays, schema=schema.INVOICES)


def _edge_columns(record: dict[str, Any]) -> pa.Table:
    """schema.EDGES from a record with parallel ``sellers, buyers, counts, totals, firsts, lasts`` lists."""
    arrays = [
        pa.array(record["sellers"], pa.string()), pa.array(record["buyers"], pa.string()),
        pa.array(record["counts"], pa.int64()), pa.array(record["totals"], pa.int64()),
        pa.array(record["firsts"], pa.int64()).cast(schema.TIMESTAMP),
        pa.array(record["lasts"], pa.int64()).cast(schema.TIMESTAMP),
    ]
    return pa.Table.from_arrays(arrays, schema=schema.EDGES)


def _packed(data: bytes, dtype: str) -> pa.Array:
    """A little-endian packed column from a procedure (``<i4`` indexes, ``<i8`` values) as an Arrow array."""
    return pa.array(np.frombuffer(data, dtype=dtype).astype(dtype[1:], copy=False))


def _packed_edges(record: dict[str, Any], tax_ids: pa.Array) -> pa.Table:
    """schema.EDGES from a procedure record: ``sellers``/``buyers`` index ``tax_ids``; four int64 columns."""
    arrays = [
        tax_ids.take(_packed(record["sellers"], "<i4")), tax_ids.take(_packed(record["buyers"], "<i4")),
        _packed(record["counts"], "<i8"), _packed(record["totals"], "<i8"),
        _packed(record["firsts"], "<i8").cast(schema.TIMESTAMP), _packed(record["lasts"], "<i8").cast(schema.TIMESTAMP),
    ]
    return pa.Table.from_arrays(arrays, schema=schema.EDGES)


def _invoice_from_row(table: pa.Table, i: int) -> Invoice:
    row = {name: table.column(name)[i].as_py() for name in INVOICE_COLUMNS}
    return Invoice(**row)


def _taxpayer_from_row(row: list[Any]) -> Taxpayer:
    tax_id, name, registered_on, industry, region, limit, status, ids = row
    pairs = tuple(sorted((k, v) for k, v in ids if k is not None))
    return Taxpayer(tax_id=tax_id, name=name, registered_on=_native(registered_on), industry=industry,
                    region=region, invoice_limit_fen=limit, status=status, identifiers=pairs)


class Neo4jStore(Store):
    """The store contract on Neo4j 5.x.

    Parameters
    ----------
    uri_or_driver : str or neo4j.Driver
        A Bolt/Neo4j URI (``bolt://127.0.0.1:7687``, ``neo4j+s://xxxx.databases.neo4j.io`` ...) or a
        ready driver (the store then does not close it).
    database, user, password : str, optional
        Default to the settings ``FAPIAO_NEO4J_DATABASE`` / ``_USER`` / ``_PASSWORD``; an empty
        password connects without auth.
    procedures : bool, optional
        False = plain Cypher reads only; True = use the server's ``fapiao.*`` read procedures when it has
        them at :data:`PROCEDURES_VERSION`; default: the setting ``FAPIAO_NEO4J_PROCEDURES`` (``auto`` | ``off``).
        After connecting, ``self.procedures`` says whether they are used and ``self.procedures_note`` why.

    Raises
    ------
    StoreError
        The server cannot be reached or refuses the credentials.
    """

    def __init__(self, uri_or_driver: str | neo4j.Driver, *, database: str | None = None,
                 user: str | None = None, password: str | None = None, procedures: bool | None = None) -> None:
        self.database = database or settings.get("FAPIAO_NEO4J_DATABASE")
        self.batch = max(1, settings.get_int("FAPIAO_NEO4J_BATCH"))
        if isinstance(uri_or_driver, str):
            self.uri = uri_or_driver
            user = user or settings.get("FAPIAO_NEO4J_USER")
            password = password if password is not None else settings.get("FAPIAO_NEO4J_PASSWORD")
            auth = (user, password) if password else None
            try:
                self._driver = neo4j.GraphDatabase.driver(uri_or_driver, auth=auth)
            except (ValueError, neo4j.exceptions.ConfigurationError) as e:
                raise ConfigError(f"bad Neo4j URI {uri_or_driver!r}: {e}") from e
            self._owns_driver = True
        else:
            self._driver = uri_or_driver
            self.uri = "neo4j:(driver)"
            self._owns_driver = False
        try:
            self._driver.verify_connectivity()
        except AuthError as e:
            self.close()
            raise StoreError(f"Neo4j at {self.uri} refused the credentials (FAPIAO_NEO4J_USER / "
                             f"FAPIAO_NEO4J_PASSWORD): {e.message}") from e
        except _NEO4J_ERRORS + (OSError,) as e:
            self.close()
            raise StoreError(f"cannot reach Neo4j at {self.uri}: {e}; start a local one with `make neo4j` "
                             "or set FAPIAO_STORE") from e
        self._ensure_schema()
        self.procedures, self.procedures_note = self._detect_procedures(procedures)

    # --- plumbing ---------------------------------------------------------------------------------
    def _session(self, access: str = neo4j.WRITE_ACCESS) -> neo4j.Session:
        return self._driver.session(database=self.database, default_access_mode=access,
                                    notifications_min_severity="OFF")

    def _ensure_schema(self) -> None:
        with self._session() as session:
            for body in schema_statements():
                try:
                    session.run(body).consume()  # schema commands run in auto-commit transactions
                except _NEO4J_ERRORS as e:
                    raise QueryError("schema", str(e)) from e
        self._ensure_trades()

    def _detect_procedures(self, wanted: bool | None) -> tuple[bool, str]:
        """Whether to use the fapiao.* read procedures: asked for, installed, and at our version."""
        if wanted is None:
            mode = settings.get("FAPIAO_NEO4J_PROCEDURES").strip().lower()
            if mode not in {"auto", "off"}:
                raise ConfigError(f"FAPIAO_NEO4J_PROCEDURES={mode!r}: use 'auto' or 'off'")
            wanted = mode == "auto"
        if not wanted:
            return False, "off (FAPIAO_NEO4J_PROCEDURES=off): plain Cypher reads"
        try:
            found = self._read("procedures_version")
        except QueryError:  # ProcedureNotFound: no jar on this server (Aura, a server without the plugin)
            return False, "the server has no fapiao.* procedures: plain Cypher reads"
        version = str(found[0]["version"]) if found else "?"
        if version != PROCEDURES_VERSION:
            return False, (f"the server's fapiao.* procedures are version {version}, this client needs "
                           f"{PROCEDURES_VERSION}: plain Cypher reads (install the jar from tools/neo4j-local)")
        return True, f"fapiao.* procedures version {version}"

    def _ensure_trades(self) -> None:
        """Build the TRADES aggregates once in a database loaded before they existed (then mark it)."""
        if self._read("meta_get", key="trades"):
            return
        if self._read("counts")[0]["invoices"]:
            try:
                with self._session() as session:
                    session.run(cypher.load("trades_backfill")).consume()
            except _NEO4J_ERRORS as e:
                raise QueryError("trades_backfill", str(e)) from e
        self._write(statement("meta_put", {"key": "trades", "value": TRADES_FORMAT}), "meta_put")

    def _read(self, name: str, *, raw: bool = False, **params: Any) -> list[dict[str, Any]]:
        """Records of statement ``name`` as dicts; ``raw`` skips ``Record.data()``, which walks a bytes value
        element by element (67 s for the packed 1M edge table instead of milliseconds)."""
        query = cypher.load(name)

        def work(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
            if raw:
                return [dict(zip(r.keys(), r.values(), strict=True)) for r in tx.run(query, params)]
            return [r.data() for r in tx.run(query, params)]

        try:
            with self._session(neo4j.READ_ACCESS) as session:
                return session.execute_read(work)
        except _NEO4J_ERRORS as e:
            raise QueryError(name, str(e)) from e

    def _rows(self, name: str, **params: Any) -> list[list[Any]]:
        """A statement that returns one record with a ``rows`` list."""
        result = self._read(name, **params)
        return list(result[0]["rows"]) if result else []

    def _write(self, work: Callable[[neo4j.ManagedTransaction], Any], name: str) -> Any:
        try:
            with self._session() as session:
                return session.execute_write(work)
        except QueryError:
            raise
        except neo4j.exceptions.ConstraintError as e:
            raise QueryError(name, f"uniqueness constraint violated: {e.message}") from e
        except _NEO4J_ERRORS as e:
            raise QueryError(name, str(e)) from e

    # --- lifecycle --------------------------------------------------------------------------------
    @contextmanager
    def writer(self) -> Iterator[Writer]:
        w = Neo4jWriter(self)
        try:
            yield w
        except BaseException:
            w.discard()
            raise
        w.flush_all()

    def await_indexes(self, seconds: int = 3600) -> None:
        """Block until every index and constraint is online (useful after a bulk import)."""
        try:
            with self._session() as session:
                session.run(cypher.load("await_indexes"), {"seconds": int(seconds)}).consume()
        except _NEO4J_ERRORS as e:
            raise QueryError("await_indexes", str(e)) from e

    def close(self) -> None:
        if getattr(self, "_owns_driver", False):
            self._driver.close()

    def clear(self) -> None:
        try:
            with self._session() as session:
                session.run(cypher.load("clear")).consume()
        except _NEO4J_ERRORS as e:
            raise QueryError("clear", str(e)) from e

    # --- entities ---------------------------------------------------------------------------------
    def counts(self) -> Counts:
        r = self._read("counts")[0]
        return Counts(taxpayers=r["taxpayers"], invoices=r["invoices"], identifiers=r["identifiers"],
                      runs=r["runs"], rings=r["rings"])

    def _taxpayer_rows(self, tax_ids: Sequence[str] | None) -> list[list[Any]]:
        if tax_ids is None:
            return self._rows("taxpayers_all")
        return self._rows("taxpayers_get", tax_ids=list(tax_ids))

    def taxpayer(self, tax_id: str) -> Taxpayer | None:
        rows = self._taxpayer_rows([tax_id])
        return _taxpayer_from_row(rows[0]) if rows else None

    def _taxpayer_objects(self, tax_ids: Sequence[str]) -> dict[str, Taxpayer]:
        return {r[0]: _taxpayer_from_row(r) for r in self._taxpayer_rows(tax_ids)}

    def taxpayers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        rows = self._taxpayer_rows(tax_ids)
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(8)]
        arrays = [
            pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()),
            pa.array([_native(v) for v in cols[2]], pa.date32()), pa.array(cols[3], pa.string()),
            pa.array(cols[4], pa.string()), pa.array(cols[5], pa.int64()), pa.array(cols[6], pa.string()),
        ]
        return pa.Table.from_arrays(arrays, schema=schema.TAXPAYERS)

    def identifiers(self, tax_ids: Sequence[str] | None = None) -> pa.Table:
        if tax_ids is None:
            rows = self._rows("identifiers_all")
        else:
            rows = self._rows("identifiers_get", tax_ids=list(tax_ids))
        cols = list(zip(*rows, strict=True)) if rows else [(), (), ()]
        return pa.Table.from_arrays([pa.array(c, pa.string()) for c in cols], schema=schema.IDENTIFIERS)

    def invoice(self, key: str) -> Invoice | None:
        table = self.invoices([key])
        return _invoice_from_row(table, 0) if table.num_rows else None

    def item_lines(self, key: str) -> pa.Table:
        rows = self._rows("item_lines_of", invoice=key)
        cols = list(zip(*rows, strict=True)) if rows else [()] * len(schema.ITEM_LINES)
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, schema.ITEM_LINES, strict=True)],
                                    schema=schema.ITEM_LINES)

    def invoices(self, keys: Sequence[str]) -> pa.Table:
        return _invoice_table(self._rows("invoices_by_keys", keys=list(keys)))

    def lookup_invoice(self, number: str, issued_on: date, amount_fen: int, *,
                       code: str | None = None) -> Invoice | None:
        day = datetime(issued_on.year, issued_on.month, issued_on.day, tzinfo=TZ)
        table = _invoice_table(self._rows(
            "invoice_lookup", number=number, code=code or None, amount_fen=int(amount_fen),
            day_start=_ts(day, MIN_TS), day_end=_ts(day + timedelta(days=1), MAX_TS)))
        return _invoice_from_row(table, 0) if table.num_rows else None

    def existing_invoice_keys(self, keys: Sequence[str] | pa.Array, *,
                              store_codes: pa.Array | pa.ChunkedArray | None = None) -> set[str]:
        found: set[str] = set()
        keys = keys.to_pylist() if isinstance(keys, pa.Array | pa.ChunkedArray) else list(keys)
        for i in range(0, len(keys), 50_000):
            found.update(self._read("invoices_existing_keys", keys=keys[i:i + 50_000])[0]["keys"])
        return found

    def search(self, text: str, limit: int = 20) -> list[Taxpayer]:
        text = text.strip()
        if not text or limit <= 0:
            return []
        found = [_taxpayer_from_row(row) for row in self._rows("search", text=text, limit=int(limit))]
        return sorted(found, key=lambda t: (t.tax_id != text, t.name, t.tax_id))

    # --- graph reads ------------------------------------------------------------------------------
    def _neighbours(self, frontier: Sequence[str], start: int, end: int,
                    min_amount_fen: int) -> list[list[Any]]:
        return self._rows("neighbours", frontier=list(frontier), start=start, end=end,
                          min_amount_fen=int(min_amount_fen))

    def ego_network(self, tax_id: str, *, hops: int = 1, start: datetime | None = None,
                    end: datetime | None = None, min_amount_fen: int = 0, limit: int = 500) -> Subgraph:
        hops = max(0, int(hops))
        if hops > MAX_EGO_HOPS:
            raise ConfigError(f"the Neo4j store walks at most {MAX_EGO_HOPS} hops around a taxpayer (asked {hops})")
        # no window and no minimum amount: walk the TRADES aggregates; otherwise the invoices themselves
        filtered = start is not None or end is not None or int(min_amount_fen) != 0
        if filtered:
            found = self._read("ego_invoices", tax_id=tax_id, hops=hops, start=_ts(start, MIN_TS),
                               end=_ts(end, MAX_TS), min_amount_fen=int(min_amount_fen), limit=max(1, int(limit)))
        else:
            if self.procedures:  # $center: the EXPLAIN-every-statement test gives $tax_id a list
                found = self._read("ego_procedure", raw=True, center=tax_id, hops=hops, limit=max(1, int(limit)))
            else:
                found = self._read("ego_trades", raw=True, tax_id=tax_id, hops=hops, limit=max(1, int(limit)))
        return self._ego_subgraph(tax_id, found)

    @staticmethod
    def _ego_subgraph(tax_id: str, found: list[dict[str, Any]]) -> Subgraph:
        """A Subgraph from an ego record (ego_trades / ego_invoices lists, or ego_procedure's packed edges)."""
        if not found:
            return Subgraph(center=tax_id, nodes=[], hops={}, edges=schema.empty(schema.EDGES))
        r = found[0]
        kept: list[str] = r["kept"]
        b1, b2 = r["bounds"]
        hop_of = {t: 0 if i == 0 else 1 if i < b1 else 2 if i < b2 else 3 for i, t in enumerate(kept)}
        by_id = {row[0]: _taxpayer_from_row(row) for row in r["nodes"]}
        table = _packed_edges(r, pa.array(kept, pa.string())) if isinstance(r["sellers"], bytes) else _edge_columns(r)
        edges = table.sort_by([("seller_tax_id", "ascending"), ("buyer_tax_id", "ascending")])
        dropped = int(r["dropped"])
        return Subgraph(center=tax_id, nodes=[by_id[t] for t in kept if t in by_id], hops=hop_of, edges=edges,
                        truncated=dropped > 0, dropped=dropped)

    def invoices_between(self, a: str, b: str, *, start: datetime | None = None,
                         end: datetime | None = None) -> pa.Table:
        return _invoice_table(self._rows("invoices_between", a=a, b=b, start=_ts(start, MIN_TS),
                                         end=_ts(end, MAX_TS)))

    def invoices_of(self, tax_id: str, *, start: datetime | None = None, end: datetime | None = None,
                    limit: int | None = None) -> pa.Table:
        return _invoice_table(self._rows("invoices_of", tax_id=tax_id, start=_ts(start, MIN_TS),
                                         end=_ts(end, MAX_TS), limit=MAX_TS if limit is None else int(limit)))

    def invoices_of_page(self, tax_id: str, side: str, *, start: datetime | None = None,
                         end: datetime | None = None, min_fen: int = 0, skip: int = 0,
                         limit: int | None = None) -> pa.Table:
        return _invoice_table(self._rows("invoices_of_side", tax_id=tax_id, issued=check_side(side),
                                         start=_ts(start, MIN_TS), end=_ts(end, MAX_TS), min_fen=int(min_fen),
                                         skip=max(int(skip), 0), limit=NO_LIMIT if limit is None else max(int(limit), 0)))

    def invoices_of_tally(self, tax_id: str, side: str, *, start: datetime | None = None,
                          end: datetime | None = None, min_fen: int = 0) -> tuple[int, int]:
        rows = self._read("invoices_of_tally", tax_id=tax_id, issued=check_side(side), start=_ts(start, MIN_TS),
                          end=_ts(end, MAX_TS), min_fen=int(min_fen))
        return (int(rows[0]["n"]), int(rows[0]["fen"])) if rows else (0, 0)

    def shortest_paths(self, a: str, b: str, *, max_hops: int = 4, limit: int = 5) -> list[list[str]]:
        if a == b:
            return [[a]] if self.taxpayer(a) else []
        parents: dict[str, set[str]] = {a: set()}
        frontier = [a]
        for _ in range(max(0, max_hops)):
            if not frontier or b in parents:
                break
            nxt: dict[str, set[str]] = {}
            inside = set(frontier)
            for seller, buyer, *_ in self._neighbours(frontier, MIN_TS, MAX_TS, MIN_TS):
                for src, dst in ((seller, buyer), (buyer, seller)):
                    if src in inside and dst not in parents:
                        nxt.setdefault(dst, set()).add(src)
            parents.update(nxt)
            frontier = sorted(nxt)
        if b not in parents:
            return []
        paths: list[list[str]] = []

        def walk(node: str, tail: list[str]) -> None:
            if len(paths) >= limit:
                return
            if node == a:
                paths.append([a, *tail])
                return
            for p in sorted(parents[node]):
                walk(p, [node, *tail])

        walk(b, [])
        return paths

    def edge_table(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        if start is None and end is None:  # the whole period: the TRADES aggregates, no invoice is read
            if self.procedures:
                r = self._read("edge_table_procedure", raw=True)[0]
                return _packed_edges(r, pa.array(r["taxIds"], pa.string()))
            return _edge_columns(self._read("edge_table_trades")[0])
        return _edge_columns(self._read("edge_table", start=_ts(start, MIN_TS), end=_ts(end, MAX_TS))[0])

    def invoice_stream(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        after_ts, after_key, end_ts = _ts(start, MIN_TS) - 1, "", _ts(end, MAX_TS)
        # the first page must include ts == start: start the cursor one second earlier
        pages: list[pa.Table] = []
        while True:
            rows = self._rows("invoice_stream_page", after_ts=after_ts, after_key=after_key, end=end_ts,
                              page=STREAM_PAGE)
            if not rows:
                break
            pages.append(_invoice_table(rows))
            after_ts, after_key = rows[-1][3], rows[-1][0]
            if len(rows) < STREAM_PAGE:
                break
        return pa.concat_tables(pages) if pages else schema.empty(schema.INVOICES)

    def invoice_months(self, *, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
        rows = self._read("invoice_months", start=_ts(start, MIN_TS), end=_ts(end, MAX_TS), tz=schema.TZ)
        return pa.Table.from_pylist([{"month": f"{r['y']:04d}-{r['m']:02d}", "count": int(r["n"]),
                                      "total_fen": int(r["fen"])} for r in rows], schema=schema.INVOICE_MONTHS)

    # --- findings ---------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        return [Run(run_id=r["run_id"], created_at=_from_us(r["created_us"]), params=json.loads(r["params"]),
                    fingerprint=r["fingerprint"], stage_seconds=json.loads(r["stage_seconds"]))
                for r in self._read("runs_list")]

    def _rings(self, run_id: str | None, ring_id: str | None) -> list[Ring]:
        return [Ring(ring_id=r["id"], run_id=r["run_id"], kind=r["kind"], members=tuple(r["members"]),
                     invoice_keys=tuple(r["invoice_keys"]), score=float(r["score"]), evidence=r["evidence"],
                     details=json.loads(r["details"]))
                for r in self._read("rings_list", run_id=run_id, ring_id=ring_id)]

    def _newest_run(self) -> str | None:
        runs = self._read("runs_list")
        return str(runs[0]["run_id"]) if runs else None

    def rings(self, run_id: str | None = None) -> list[Ring]:
        run_id = run_id or self._newest_run()
        return self._rings(run_id, None) if run_id else []

    def ring(self, ring_id: str) -> Ring | None:
        found = self._rings(None, ring_id)
        return found[0] if found else None

    def scores(self, run_id: str | None = None) -> pa.Table:
        run_id = run_id or self._newest_run()
        if not run_id:
            return schema.empty(schema.SCORES)
        rows = self._rows("scores_get", run_id=run_id)
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in schema.SCORES]
        return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, schema.SCORES, strict=True)],
                                    schema=schema.SCORES)

    def _ring_params(self, run_id: str | None, where: RingQuery) -> dict[str, Any] | None:
        run_id = run_id or self._newest_run()
        return None if not run_id else {
            "run_id": run_id, "kinds": list_param(where.kinds), "min_score": float(where.min_score),
            "min_fen": int(where.min_fen), "start": None if where.start is None else _ts(where.start, MIN_TS),
            "end": None if where.end is None else _ts(where.end, MAX_TS)}

    def rings_page(self, run_id: str | None = None, where: RingQuery = ANY_RING, *, skip: int = 0,
                   limit: int | None = None) -> list[RingRow]:
        params = self._ring_params(run_id, where)
        rows = [] if params is None else self._read("rings_page", **params, skip=int(skip),
                                                    limit=NO_LIMIT if limit is None else int(limit))
        return [RingRow(Ring(ring_id=r["id"], run_id=r["run_id"], kind=r["kind"], members=tuple(r["members"]),
                             invoice_keys=tuple(r["invoice_keys"]), score=float(r["score"]), evidence=r["evidence"],
                             details=json.loads(r["details"])), epoch_local(r["first_ts"]), epoch_local(r["last_ts"]),
                        int(r["fen"])) for r in rows]

    def rings_count(self, run_id: str | None = None, where: RingQuery = ANY_RING) -> int:
        params = self._ring_params(run_id, where)
        rows = [] if params is None else self._read("rings_count", **params)
        return int(rows[0]["n"]) if rows else 0

    def ring_kinds(self, run_id: str | None = None) -> dict[str, int]:
        run_id = run_id or self._newest_run()
        return {r["kind"]: int(r["n"]) for r in self._read("ring_kinds", run_id=run_id)} if run_id else {}

    def _score_params(self, run_id: str | None, where: ScoreQuery) -> dict[str, Any] | None:
        run_id = run_id or self._newest_run()
        return None if not run_id else {
            "run_id": run_id, "overrides": dict(where.overrides), "tiers": list_param(where.tiers),
            "min_score": float(where.min_score), "industries": list_param(where.industries),
            "regions": list_param(where.regions), "text": where.text or None, "tax_ids": list_param(where.tax_ids)}

    def scores_page(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE, *, skip: int = 0,
                    limit: int | None = None) -> pa.Table:
        params = self._score_params(run_id, where)
        rows = [] if params is None else self._read("scores_page", **params, skip=int(skip),
                                                    limit=NO_LIMIT if limit is None else int(limit))
        return pa.Table.from_pylist(rows, schema=schema.SCORED_TAXPAYERS)

    def scores_count(self, run_id: str | None = None, where: ScoreQuery = ANY_SCORE) -> int:
        params = self._score_params(run_id, where)
        rows = [] if params is None else self._read("scores_count", **params)
        return int(rows[0]["n"]) if rows else 0

    def score_facets(self, run_id: str | None = None) -> dict[str, list[str]]:
        run_id = run_id or self._newest_run()
        rows = self._read("score_facets", run_id=run_id) if run_id else []
        return {"industry": sorted(rows[0]["industries"]) if rows else [],
                "region": sorted(rows[0]["regions"]) if rows else []}

    # --- workflow records and audit -------------------------------------------------------------------
    def record(self, kind: str, rec_id: str) -> dict[str, Any] | None:
        found = self._read("record_get", uid=record_uid(kind, rec_id))
        return dict(json.loads(found[0]["data"])) if found else None

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [dict(json.loads(r["data"])) for r in self._read("records_list", kind=kind)]

    def records_page(self, kind: str, equal: Mapping[str, str] | None = None, *, unset: Sequence[str] = (),
                     newest: Sequence[str] = (), limit: int | None = None) -> list[dict[str, Any]]:
        # Records hold their fields as JSON text: the query keeps those containing '"field": "value"' (as the
        # writer's json.dumps spells it; the field alone for true/false/numbers, whose JSON type is unknown here)
        check_fields(equal or {}, unset, newest)
        needles = [f'"{k}": ' + ("" if v in ("true", "false") or v.lstrip("-").replace(".", "", 1).isdigit()
                                 else json.dumps(v, ensure_ascii=False)) for k, v in (equal or {}).items()]
        found = [dict(json.loads(r["data"])) for r in self._read("records_matching", kind=kind, needles=needles)]
        return page_of(found, equal, unset=unset, newest=newest, limit=limit)

    def audit_events(self, after_seq: int = 0, *, skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        return _audit_events(self._read("audit_list", after_seq=int(after_seq), skip=int(skip),
                                        limit=NO_LIMIT if limit is None else int(limit)))

    def audit_page(self, *, actor: str | None = None, action: str | None = None, target: str | None = None,
                   skip: int = 0, limit: int | None = None) -> list[AuditEvent]:
        return _audit_events(self._read("audit_page", actor=actor, action=action, target=target, skip=int(skip),
                                        limit=NO_LIMIT if limit is None else int(limit)))

    def audit_count(self, *, actor: str | None = None, action: str | None = None, target: str | None = None) -> int:
        rows = self._read("audit_count", actor=actor, action=action, target=target)
        return int(rows[0]["n"]) if rows else 0


def _audit_events(rows: list[dict[str, Any]]) -> list[AuditEvent]:
    return [AuditEvent(seq=r["seq"], at=_from_us(r["at_us"]), actor=r["actor"], role=r["role"], action=r["action"],
                       target=r["target"], detail=r["detail"], prev_hash=r["prev_hash"], hash=r["hash"])
            for r in rows]
