"""First loads into an empty Neo4j with Neo4j's own bulk importer (``neo4j-admin database import full``).

:func:`write_import_csv` turns taxpayers / identifiers / invoices (graph.core.schema tables) into the CSV set the
importer reads, with exactly the nodes, relationships and properties the Cypher load
(:mod:`graph.neo4j_store`) creates: Taxpayer, Invoice, Identifier, ISSUED, BILLED_TO, HAS, RED_OF, the TRADES
aggregates and the FapiaoMeta marker. Nodes carry their final node ids (``--id-type=actual``), so the importer
maps no string ids. :func:`import_local` runs the importer on the local launcher's data
directory (server stopped; ``graph.local_neo4j``); for a remote server, :meth:`ImportSet.command` is the
``neo4j-admin`` command line to run there. Constraints and indexes are created by ``Neo4jStore`` on the first
connect afterwards (:func:`finish`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graph.core import schema
from graph.core.errors import StoreError

__all__ = ["ImportSet", "import_local", "write_import_csv"]

DATABASE = "neo4j"
CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed", delimiter=",")


@dataclass
class ImportSet:
    """The CSV files of one bulk import: ``nodes`` / ``relationships`` as (label or type, [header, data])."""

    directory: Path
    nodes: list[tuple[str, list[Path]]] = field(default_factory=list)
    relationships: list[tuple[str, list[Path]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def arguments(self, root: Path | None = None) -> list[str]:
        """``--id-type`` / ``--nodes`` / ``--relationships`` options; paths relative to ``root`` when given."""
        def name(p: Path) -> str:
            return str(p.relative_to(root)) if root is not None else str(p)

        args = ["--id-type=actual"]  # the files carry final node ids (see write_import_csv)
        args += [f"--nodes={label}={','.join(name(p) for p in files)}" for label, files in self.nodes]
        args += [f"--relationships={typ}={','.join(name(p) for p in files)}" for typ, files in self.relationships]
        return args

    def command(self) -> str:
        """The command to run on a stopped Neo4j 5.x server, from inside this directory."""
        return " ".join(["neo4j-admin database import full", DATABASE, *self.arguments(self.directory),
                         "--overwrite-destination=false"])

    def write(self, stem: str, header: str, table: pa.Table) -> list[Path]:
        """Write ``table`` as ``STEM.csv`` and its importer ``header`` as ``STEM-header.csv``."""
        head, path = self.directory / f"{stem}-header.csv", self.directory / f"{stem}.csv"
        head.write_text(header + "\n", encoding="utf-8")
        pacsv.write_csv(table, path, write_options=CSV_OPTIONS)
        return [head, path]


def _taxpayer_nodes(taxpayers: pa.Table, identifiers: pa.Table, invoices: pa.Table) -> pa.Table:
    """Every taxpayer the Cypher load would create: the taxpayers table (its non-null values), then the
    parties named on invoices (first name seen, sellers before buyers) and identifier owners."""
    named = pa.concat_tables([
        invoices.select(["seller_tax_id", "seller_name"]).rename_columns(["tax_id", "name"]),
        invoices.select(["buyer_tax_id", "buyer_name"]).rename_columns(["tax_id", "name"]),
        identifiers.select(["tax_id"]).append_column("name", pa.nulls(identifiers.num_rows, pa.string())),
    ])
    named = named.filter(pc.is_valid(named["tax_id"]))
    # the first non-null name per tax id (the writer keeps the first name it met)
    firsts = named.filter(pc.is_valid(named["name"])).group_by("tax_id", use_threads=False).aggregate(
        [("name", "first")])
    with_name = pa.table({"tax_id": firsts["tax_id"], "party_name": firsts["name_first"]})
    parties = pa.table({"tax_id": pc.unique(named["tax_id"])}).join(with_name, "tax_id", join_type="left outer")
    props = [f.name for f in schema.TAXPAYERS if f.name != "tax_id"]
    # the last non-null value of each property wins, as with repeated upserts
    last = schema.conform(taxpayers, schema.TAXPAYERS).group_by("tax_id", use_threads=False).aggregate(
        [(n, "last") for n in props])
    table = pa.table({"tax_id": last["tax_id"], **{n: last[f"{n}_last"] for n in props}})
    merged = parties.join(table, "tax_id", join_type="full outer")
    name = pc.coalesce(merged["name"], merged["party_name"])
    return pa.table({
        "tax_id": merged["tax_id"], "name": name, "registered_on": merged["registered_on"],
        "industry": merged["industry"], "region": merged["region"],
        "invoice_limit_fen": merged["invoice_limit_fen"], "status": merged["status"],
    }).sort_by("tax_id")


def _trades(invoices: pa.Table) -> pa.Table:
    ts = pc.cast(invoices["issued_at"], pa.int64())
    pos = pc.greater_equal(invoices["total_fen"], 0)
    t = pa.table({"s": invoices["seller_tax_id"], "b": invoices["buyer_tax_id"], "total": invoices["total_fen"],
                  "ts": ts, "pos_total": pc.if_else(pos, invoices["total_fen"], None), "pos_ts": pc.if_else(pos, ts, None)})
    g = t.group_by(["s", "b"]).aggregate([
        ("total", "count"), ("total", "sum"), ("ts", "min"), ("ts", "max"),
        ("pos_total", "count"), ("pos_total", "sum"), ("pos_ts", "min"), ("pos_ts", "max")])
    return pa.table({
        "s": g["s"], "b": g["b"], "count": g["total_count"], "total_fen": g["total_sum"], "first_ts": g["ts_min"],
        "last_ts": g["ts_max"], "pos_count": g["pos_total_count"],
        "pos_total_fen": pc.fill_null(g["pos_total_sum"], 0), "pos_first_ts": g["pos_ts_min"],
        "pos_last_ts": g["pos_ts_max"],
    })


def write_import_csv(directory: Path, *, invoices: pa.Table, taxpayers: pa.Table | None = None,
                     identifiers: pa.Table | None = None) -> ImportSet:
    """Write the importer's CSV set for these tables into ``directory`` (created; must be empty).

    Invoices with the same key keep the last row (as repeated upserts would); red-letter invoices are linked
    to their originals when both are in the set.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise StoreError(f"{directory} is not empty; give an empty folder for the import CSV files")
    inv = schema.conform(invoices, schema.INVOICES)
    # the last row of each key wins
    keep = pa.table({"key": inv["key"], "i": pa.array(range(inv.num_rows), pa.int64())}).group_by(
        "key").aggregate([("i", "max")])["i_max"]
    inv = inv.take(pc.take(keep, pc.sort_indices(keep)))
    tp = schema.conform(taxpayers, schema.TAXPAYERS) if taxpayers is not None else schema.empty(schema.TAXPAYERS)
    ids = schema.conform(identifiers, schema.IDENTIFIERS) if identifiers is not None else schema.empty(schema.IDENTIFIERS)
    ids = ids.filter(pc.and_(pc.is_valid(ids["value"]), pc.not_equal(ids["value"], "")))
    ids = ids.group_by(["tax_id", "kind", "value"], use_threads=False).aggregate([])
    out = ImportSet(directory)

    # Nodes get their final node ids here (--id-type=actual): taxpayers 0.., then invoices, identifiers and
    # the marker, so the importer needs no id lookups (string ids cost it a fifth of its CPU in sorting and
    # binary searches); tax_id / key are ordinary properties.
    people = _taxpayer_nodes(tp, ids, inv)
    n_tp, n_inv = people.num_rows, inv.num_rows

    def tp_id(tax_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
        return pc.index_in(tax_ids, value_set=people["tax_id"]).cast(pa.int64())

    out.nodes.append(("Taxpayer", out.write(
        "taxpayers", ":ID,tax_id,name,registered_on:date,industry,region,invoice_limit_fen:long,status",
        pa.table({"id": _ids(0, n_tp), **{n: people[n] for n in people.column_names}}))))
    ts = pc.cast(inv["issued_at"], pa.int64())
    local = pc.strftime(inv["issued_at"], format="%Y-%m-%dT%H:%M:%S")  # wall-clock time in Asia/Shanghai
    code = pc.if_else(pc.equal(inv["code"], ""), pa.scalar(None, pa.string()), inv["code"])
    inv_ids = _ids(n_tp, n_inv)
    nodes = pa.table({
        "id": inv_ids, "key": inv["key"], "number": inv["number"], "code": code, "ts": ts, "issued_at": local,
        "seller_tax_id": inv["seller_tax_id"], "seller_name": inv["seller_name"], "buyer_tax_id": inv["buyer_tax_id"],
        "buyer_name": inv["buyer_name"], "amount_fen": inv["amount_fen"], "tax_fen": inv["tax_fen"],
        "total_fen": inv["total_fen"], "rate": inv["rate"], "kind": inv["kind"], "status": inv["status"],
        "red_ref": inv["red_ref"], "item_code": inv["item_code"], "item_name": inv["item_name"],
    })
    out.nodes.append(("Invoice", out.write(
        "invoices",
        ":ID,key,number,code,ts:long,issued_at:datetime{timezone:" + schema.TZ + "},seller_tax_id,seller_name,"
        "buyer_tax_id,buyer_name,amount_fen:long,tax_fen:long,total_fen:long,rate:double,kind,status,red_ref,"
        "item_code,item_name", nodes)))
    ident_ids = pc.binary_join_element_wise(ids["kind"], ids["value"], "\x1f")
    unique_ids = pa.table({"id": ident_ids, "kind": ids["kind"], "value": ids["value"]}).group_by(
        ["id", "kind", "value"], use_threads=False).aggregate([])
    first_ident = n_tp + n_inv
    out.nodes.append(("Identifier", out.write("identifiers", ":ID,kind,value", pa.table({
        "id": _ids(first_ident, unique_ids.num_rows), "kind": unique_ids["kind"], "value": unique_ids["value"]}))))
    out.nodes.append(("FapiaoMeta", out.write("meta", ":ID,key,value", pa.table({
        "id": _ids(first_ident + unique_ids.num_rows, 1), "key": ["trades"], "value": ["1"]}))))

    out.relationships.append(("ISSUED", out.write("issued", ":START_ID,:END_ID",
                                                  pa.table({"s": tp_id(inv["seller_tax_id"]), "k": inv_ids}))))
    out.relationships.append(("BILLED_TO", out.write("billed_to", ":START_ID,:END_ID",
                                                     pa.table({"k": inv_ids, "b": tp_id(inv["buyer_tax_id"])}))))
    ident_node = pc.add(pc.index_in(ident_ids, value_set=unique_ids["id"]).cast(pa.int64()), first_ident)
    out.relationships.append(("HAS", out.write("has", ":START_ID,:END_ID",
                                               pa.table({"t": tp_id(ids["tax_id"]), "x": ident_node}))))
    red_of = pc.index_in(inv["red_ref"], value_set=inv["key"]).cast(pa.int64())  # null when not a red invoice or not in the set
    red_rows = pc.indices_nonzero(pc.is_valid(red_of))
    red = pa.table({"s": pc.take(inv_ids, red_rows), "b": pc.add(pc.take(red_of, red_rows), n_tp)})
    out.relationships.append(("RED_OF", out.write("red_of", ":START_ID,:END_ID", red)))
    trades = _trades(inv)
    trades = trades.set_column(0, "s", tp_id(trades["s"])).set_column(1, "b", tp_id(trades["b"]))
    out.relationships.append(("TRADES", out.write(
        "trades",
        ":START_ID,:END_ID,count:long,total_fen:long,first_ts:long,last_ts:long,pos_count:long,"
        "pos_total_fen:long,pos_first_ts:long,pos_last_ts:long", trades)))
    out.counts = {"taxpayers": people.num_rows, "invoices": inv.num_rows, "identifiers": ids.num_rows,
                  "trades": trades.num_rows, "red_of": red.num_rows}
    return out


def _ids(first: int, n: int) -> pa.Array:
    return pa.array(np.arange(first, first + n, dtype=np.int64))


def _database_dirs(data_dir: Path) -> Sequence[Path]:
    return [data_dir / "data" / "databases" / DATABASE, data_dir / "data" / "transactions" / DATABASE]


def import_local(data_dir: Path, csv: ImportSet, *, overwrite: bool = False) -> float:
    """Run the bulk importer on the local launcher's ``data_dir`` (the server must be stopped).

    Returns the importer's wall-clock seconds. Raises StoreError when the database already holds data and
    ``overwrite`` is False, or when the importer fails (with its last output lines).
    """
    from graph import local_neo4j

    data_dir = Path(data_dir).resolve()
    existing = [p for p in _database_dirs(data_dir) if p.exists() and any(p.iterdir())]
    if existing and not overwrite:
        raise StoreError(f"{data_dir} already holds a Neo4j database; the bulk import only fills an empty one "
                         "(load with `fapiao load` instead, or start from an empty --data folder)")
    for p in existing:
        shutil.rmtree(p)
    problem = local_neo4j.missing_prerequisites()
    if problem:
        raise StoreError(f"cannot run the Neo4j importer: {problem}")
    local_neo4j.build_if_needed()
    conf = data_dir / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "neo4j.conf").touch()
    command = local_neo4j.admin_command(["database", "import", "full", DATABASE, *csv.arguments(),
                                         "--overwrite-destination=false",
                                         f"--report-file={data_dir / 'import.report'}"])
    env = local_neo4j.admin_env(data_dir)
    t0 = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=data_dir, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    (data_dir / "import.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise StoreError(f"neo4j-admin database import failed (exit {proc.returncode}); log "
                         f"{data_dir / 'import.log'}:\n{tail}")
    return seconds
