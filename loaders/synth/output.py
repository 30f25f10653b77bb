"""Turn generator batches into interchange-format tables and stream them to Parquet or CSV."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from graph.core.errors import ConfigError
from loaders.synth import catalog
from loaders.synth.population import STATUSES, Population
from loaders.synth.trade import KINDS, STATUS_CODES, Batch, Calendar

Ints = npt.NDArray[np.int64]

INVOICE_COLUMNS = ("invoice_number", "invoice_code", "issue_date", "seller_tax_id", "seller_name", "buyer_tax_id",
                   "buyer_name", "amount", "tax_amount", "total_amount", "tax_rate", "invoice_type", "status",
                   "red_ref", "item_code", "item_name")
TAXPAYER_COLUMNS = ("tax_id", "name", "registered_on", "industry", "region", "invoice_limit", "status",
                    "legal_rep", "phone", "address", "bank_account")
INVOICE_SCHEMA = pa.schema([(c, pa.string()) for c in INVOICE_COLUMNS])
TAXPAYER_SCHEMA = pa.schema([(c, pa.string()) for c in TAXPAYER_COLUMNS])
FORMATS = ("parquet", "csv")

_STATUS_NAMES = pa.array(sorted(STATUS_CODES, key=STATUS_CODES.__getitem__))
_KIND_NAMES = pa.array(KINDS)
_ITEM_CODES = pa.array([it.code for it in catalog.ITEMS])
_ITEM_NAMES = pa.array([it.name for it in catalog.ITEMS])


def yuan(fen: Ints) -> pa.Array:
    """Integer fen -> yuan strings with two decimals ("-1234.50")."""
    a = np.abs(fen)
    whole = pc.cast(pa.array(a // 100), pa.string())
    cents = pc.utf8_lpad(pc.cast(pa.array(a % 100), pa.string()), 2, "0")
    sign = pc.if_else(pa.array(fen < 0), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", cents, "")


def rate_text(bp: Ints) -> pa.Array:
    """Basis points -> "0.13", "0.06", "0.015" ..."""
    uniq, inv = np.unique(bp, return_inverse=True)
    texts = pa.array([f"{b / 10000:.4f}".rstrip("0").rstrip(".") if b else "0" for b in uniq.tolist()])
    return texts.take(pa.array(inv.astype(np.int64)))


def timestamps(cal: Calendar, day: Ints, sec: Ints) -> npt.NDArray[np.datetime64]:
    ts: npt.NDArray[np.datetime64] = (np.datetime64(cal.start, "s") + day.astype("timedelta64[D]")
                                      + sec.astype("timedelta64[s]"))
    return ts


class Formatter:
    """Shared lookups (taxpayer strings as Arrow arrays) for formatting many batches."""

    def __init__(self, pop: Population, cal: Calendar) -> None:
        self.cal = cal
        self.tax_id = pa.array(pop.tax_id)
        self.name = pa.array(pop.name)
        self.province = pa.array(np.array([r[1][:2] for r in catalog.REGIONS])[pop.region])
        self.region4 = pa.array(np.array([r[1][:4] for r in catalog.REGIONS])[pop.region])

    def keys(self, b: Batch, serial0: int) -> tuple[pa.Array, pa.Array, pa.Array]:
        """(invoice_number, invoice_code, key) for a batch whose first row has global serial ``serial0``."""
        n = len(b)
        serial = np.arange(serial0, serial0 + n, dtype=np.int64)
        year = self.cal.year(b.day) % 100
        yy = pc.utf8_lpad(pc.cast(pa.array(year), pa.string()), 2, "0")
        seller = pa.array(b.seller)
        digital = b.kind >= 2
        d_num = pc.binary_join_element_wise(
            yy, self.province.take(seller), pc.utf8_lpad(pc.cast(pa.array(serial), pa.string()), 16, "0"), "")
        p_num = pc.utf8_lpad(pc.cast(pa.array(serial % 100_000_000), pa.string()), 8, "0")
        batch_no = serial // 100_000_000
        r4 = self.region4.take(seller)
        special_code = pc.binary_join_element_wise(
            r4, yy, pc.cast(pa.array(batch_no % 10), pa.string()), "130", "")
        ordinary_code = pc.binary_join_element_wise(
            "0", r4, yy, pc.utf8_lpad(pc.cast(pa.array(batch_no % 1000), pa.string()), 3, "0"), "11", "")
        number = pc.if_else(pa.array(digital), d_num, p_num)
        code = pc.if_else(pa.array(digital), pa.nulls(n, pa.string()),
                          pc.if_else(pa.array(b.kind == 0), special_code, ordinary_code))
        key = pc.if_else(pa.array(digital), number, pc.binary_join_element_wise(code, number, "-"))
        return number, code, key

    def invoices(self, b: Batch, serial0: int) -> tuple[pa.Table, pa.Array]:
        """The interchange table for a batch, and its invoice keys."""
        number, code, key = self.keys(b, serial0)
        ts = timestamps(self.cal, b.day, b.sec)
        issue = pc.binary_join_element_wise(pa.array(np.datetime_as_string(ts, unit="s")), "+08:00", "")
        tax = _tax(b)
        seller = pa.array(b.seller)
        buyer = pa.array(b.buyer)
        red_idx = pa.array(b.red_of, mask=b.red_of < 0)
        item = pa.array(b.item)
        cols = [number, code, issue, self.tax_id.take(seller), self.name.take(seller), self.tax_id.take(buyer),
                self.name.take(buyer), yuan(b.amount), yuan(tax), yuan(b.amount + tax), rate_text(b.rate_bp),
                _KIND_NAMES.take(pa.array(b.kind)), _STATUS_NAMES.take(pa.array(b.status)), key.take(red_idx),
                _ITEM_CODES.take(item), _ITEM_NAMES.take(item)]
        return pa.Table.from_arrays(cols, schema=INVOICE_SCHEMA), key


def _tax(b: Batch) -> Ints:
    from loaders.synth.trade import tax_fen

    return tax_fen(b.amount, b.rate_bp)


def taxpayer_table(pop: Population, cal: Calendar) -> pa.Table:
    """The taxpayer register in interchange format."""
    reg = np.datetime64(cal.start, "D") + pop.reg_day.astype("timedelta64[D]")
    industry = pa.array([ind.name for ind in catalog.INDUSTRIES]).take(pa.array(pop.industry))
    region = pa.array([r[1] for r in catalog.REGIONS]).take(pa.array(pop.region))
    cols = [pa.array(pop.tax_id), pa.array(pop.name), pa.array(np.datetime_as_string(reg, unit="D")), industry,
            region, yuan(pop.limit_fen), pa.array(list(STATUSES)).take(pa.array(pop.status)),
            pa.array(pop.legal_rep), pa.array(pop.phone), pa.array(pop.address), pa.array(pop.bank_account)]
    return pa.Table.from_arrays(cols, schema=TAXPAYER_SCHEMA)


class TableSink:
    """Streams tables with one schema to ``path`` (Parquet row groups or CSV chunks)."""

    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.path = path
        self.rows = 0
        self._pq: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(path, schema, compression="zstd")
        else:
            self._csv = pacsv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        if self._pq is not None:
            self._pq.write_table(table)
        elif self._csv is not None:
            self._csv.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._csv is not None:
            self._csv.close()

    def __enter__(self) -> TableSink:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
