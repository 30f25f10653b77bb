"""The validation rules (id → severity + reason) and the vectorised invoice validator.

:class:`InvoiceValidator` checks one batch of text rows at a time with pyarrow / numpy column
operations (no Python loop per row on the hot path), keeps the cross-batch state needed for
duplicates and red-letter totals, and returns accepted rows as ``graph.core.schema.INVOICES``.
:func:`check_invoice` runs the same checks on one invoice (the self-check, 自查).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.core import schema, settings, vocab
from graph.core.errors import FieldError
from graph.core.vocab import INVOICE_KINDS, INVOICE_STATUSES
from graph.store import Store
from loaders import kernels
from loaders import normalize as nz
from loaders.uscc import check_mask

BoolArray = nz.BoolArray


@dataclass(frozen=True)
class Rule:
    """One validation rule: ``severity`` is "error" (row rejected) or "warning" (row loaded, flagged)."""

    id: str
    severity: str
    zh: str
    en: str

    @property
    def reason(self) -> str:
        return f"{self.zh} / {self.en}"


#: every rule, in report order; their names (中文, English) are graph.core.vocab.VALIDATION_RULES
_R = [Rule(id_, severity, *vocab.VALIDATION_RULES[id_]) for id_, severity in (
    ("missing_field", "error"), ("bad_value", "error"), ("tax_id_format", "error"),
    ("tax_id_check", "warning"), ("invoice_number_format", "error"), ("invoice_code_format", "error"),
    ("digital_year", "warning"), ("date_unparseable", "error"), ("date_future", "error"),
    ("rate_for_date", "error"), ("total_mismatch", "error"), ("tax_mismatch", "error"),
    ("red_not_negative", "error"), ("red_ref_missing", "error"), ("red_exceeds_original", "error"),
    ("over_limit", "error"), ("same_party", "error"), ("duplicate_key", "error"),
    ("name_conflict", "warning"), ("status_invalid", "error"), ("ocr_review", "error"),
)]
#: Every rule by id (the ids are shared with the generator's noise truth and the docs).
RULES: dict[str, Rule] = {r.id: r for r in _R}

STATUS_ALIASES = {
    "": "normal", "normal": "normal", "正常": "normal", "valid": "normal", "0": "normal",
    "void": "void", "作废": "void", "已作废": "void", "cancelled": "void",
    "red": "red", "红字": "red", "红冲": "red", "负数": "red",
    "red_offset": "red_offset", "被红冲": "red_offset", "已红冲": "red_offset", "全额红冲": "red_offset",
    "部分红冲": "red_offset",
    "out_of_control": "out_of_control", "失控": "out_of_control",
    "abnormal": "abnormal", "异常": "abnormal", "异常凭证": "abnormal",
}
KIND_ALIASES = {
    "special": "special", "专票": "special", "增值税专用发票": "special", "专用发票": "special",
    "ordinary": "ordinary", "普票": "ordinary", "增值税普通发票": "ordinary", "普通发票": "ordinary",
    "电子普通发票": "ordinary", "增值税电子普通发票": "ordinary",
    "digital_special": "digital_special", "数电专票": "digital_special", "电子发票（增值税专用发票）": "digital_special",
    "数电票（增值税专用发票）": "digital_special", "全电专票": "digital_special",
    "digital_ordinary": "digital_ordinary", "数电普票": "digital_ordinary", "电子发票（普通发票）": "digital_ordinary",
    "数电票（普通发票）": "digital_ordinary", "全电普票": "digital_ordinary",
    "增值税电子专用发票": "special", "数电发票（增值税专用发票）": "digital_special",
    "数电发票（普通发票）": "digital_ordinary", "全电发票（增值税专用发票）": "digital_special",
    "全电发票（普通发票）": "digital_ordinary",
}

#: Normalised statuses (index 0: not a known status) and invoice kinds, as coded per row by the validator.
STATUS_NAMES = ("", *INVOICE_STATUSES)
KIND_NAMES = tuple(INVOICE_KINDS)
_STATUS_VOID, _STATUS_RED = STATUS_NAMES.index("void"), STATUS_NAMES.index("red")
_KIND_SPECIAL, _KIND_ORDINARY, _KIND_DIGITAL_ORDINARY = 0, 1, 3

# Allowed rates (units of 0.0001) by period; simplified collection rates and 6% / 0% hold throughout.
_ALWAYS = (0, 50, 100, 150, 300, 500, 600)
_PERIODS = (  # (first day as epoch seconds Asia/Shanghai, extra rates)
    (-(10**12), (1700, 1100)),
    (1525104000, (1600, 1000)),   # 2018-05-01
    (1554048000, (1300, 900)),    # 2019-04-01
)
_PERIOD_STARTS = np.array([start for start, _ in _PERIODS], dtype=np.int64)
_PERIODS_END = 10**12
USCC_SWITCH = 1514736000          # 2018-01-01 Asia/Shanghai: legacy ids are flagged after this
_LEGACY_RE = r"^([0-9A-Z]{15}|[0-9A-Z]{17}|[0-9A-Z]{20})$"

#: Most keys :meth:`InvoiceValidator.expect` reserves room for (index of at most 512 MB + 160 MB).
MAX_RESERVE = 10_000_000
#: Columns whose equality makes a re-loaded invoice "identical" (names may be corrected and are not compared).
CONTENT_COLUMNS = ("key", "issued_at", "seller_tax_id", "buyer_tax_id", "amount_fen", "tax_fen", "total_fen",
                   "rate", "status", "red_ref")


@dataclass
class Issue:
    """Rows of a batch that broke one rule on one field."""

    rule: str
    field: str
    rows: np.ndarray
    detail: str = ""


@dataclass
class BatchOutcome:
    """What :meth:`InvoiceValidator.validate` made of one batch."""

    accepted: pa.Table                       # schema.INVOICES
    rejected_rows: np.ndarray                # batch row indices, ascending
    rejected_rules: list[str]                # per rejected row: rule ids joined by ";"
    rejected_reasons: list[str]              # per rejected row: reasons joined by " | "
    skipped_identical: int
    warnings: list[Issue] = field(default_factory=list)
    deferred: int = 0                        # red-letter rows waiting for their original
    keys: pa.Array | None = None             # every batch row's invoice key (for warning reports)
    kept: np.ndarray | None = None           # batch rows loaded or skipped as identical (their item lines count)
    skipped_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # the identical re-sends


def _allowed_table() -> np.ndarray:
    """``[period, rate_e4]`` → the rate is allowed in that period."""
    table = np.zeros((len(_PERIODS), 10000), dtype=np.bool_)
    for i, (_, extra) in enumerate(_PERIODS):
        table[i, list(_ALWAYS + extra)] = True
    return table


_ALLOWED = _allowed_table()
_STATUS_ARRAY = pa.array(STATUS_NAMES, pa.string())
_KIND_ARRAY = pa.array(KIND_NAMES, pa.string())
_STATUS_ALIAS_KEYS = pa.array(list(STATUS_ALIASES), pa.string())
_STATUS_ALIAS_CODE = np.array([STATUS_NAMES.index(v) for v in STATUS_ALIASES.values()], dtype=np.int64)
_KIND_ALIAS_KEYS = pa.array([unicodedata.normalize("NFKC", k) for k in KIND_ALIASES], pa.string())
_KIND_ALIAS_CODE = np.array([KIND_NAMES.index(v) for v in KIND_ALIASES.values()], dtype=np.int64)


def _status_codes(text: pa.Array) -> np.ndarray:
    """Index into :data:`STATUS_NAMES` of each status text (case-insensitive alias; 0 when unknown)."""
    idx = np.asarray(pc.fill_null(pc.index_in(pc.utf8_lower(text), _STATUS_ALIAS_KEYS), -1)
                     .to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.where(idx >= 0, _STATUS_ALIAS_CODE[np.maximum(idx, 0)], 0)


def _kind_codes(text: pa.Array) -> np.ndarray:
    """Index into :data:`KIND_NAMES` of each invoice-type text (exact alias; -1 when not given or unknown)."""
    text = pc.utf8_normalize(text, form="NFKC")   # full-width brackets as half-width: 数电票(增值税专用发票)
    idx = np.asarray(pc.fill_null(pc.index_in(text, _KIND_ALIAS_KEYS), -1).to_numpy(zero_copy_only=False),
                     dtype=np.int64)
    return np.where(idx >= 0, _KIND_ALIAS_CODE[np.maximum(idx, 0)], -1)


_UNICODE_TEXT = ("seller_name", "buyer_name", "item_name", "status", "invoice_type")


def _id_checks(tid: pa.Array) -> tuple[BoolArray, BoolArray, BoolArray]:
    """(well formed, check character right, legacy id) for upper-cased tax ids."""
    well, check_ok = check_mask(tid)
    legacy = np.zeros(len(tid), dtype=np.bool_)
    odd = np.flatnonzero(~well & nz.np_bool(pc.greater(pc.utf8_length(tid), 0)))
    if len(odd):
        legacy[odd] = nz.np_bool(pc.match_substring_regex(tid.take(pa.array(odd)), _LEGACY_RE))
    return well, check_ok, legacy


class _Columns:
    """Cleaned text columns of one batch, their blank masks and per-value results, each computed once.

    Dictionary-encoded columns (low-cardinality columns such as tax ids, names, rates and statuses are
    read that way) are cleaned and checked once per distinct value and mapped back to rows by index.
    """

    def __init__(self, table: pa.Table) -> None:
        if any(pa.types.is_dictionary(f.type) for f in table.schema):
            table = table.unify_dictionaries()
        self.table = table
        self.n = table.num_rows
        self._text: dict[str, pa.Array] = {}
        self._blank: dict[str, BoolArray] = {}
        self._dict: dict[str, tuple[pa.Array, np.ndarray]] = {}

    def values(self, name: str) -> tuple[pa.Array, np.ndarray] | None:
        """(cleaned distinct values, row → value index) for a dictionary column, else None."""
        if name in self._dict:
            return self._dict[name]
        if name not in self.table.column_names:   # an absent column is one blank value
            self._dict[name] = (pa.array([""], pa.string()), np.zeros(self.n, dtype=np.int32))
            return self._dict[name]
        if not pa.types.is_dictionary(self.table.column(name).type):
            return None
        col = self.table.column(name)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if isinstance(arr, pa.ChunkedArray):  # pragma: no cover - combine_chunks of one dictionary
            arr = arr.chunk(0)
        dictionary = nz.clean(arr.dictionary, unicode=name in _UNICODE_TEXT)
        dictionary = pa.concat_arrays([dictionary, pa.array([""], pa.string())])
        indices = arr.indices if arr.indices.null_count == 0 else pc.fill_null(arr.indices, len(dictionary) - 1)
        idx = np.asarray(indices.to_numpy(zero_copy_only=False), dtype=np.int32)   # int32: faster gathers
        self._dict[name] = (dictionary, idx)
        return self._dict[name]

    def distinct(self, name: str) -> tuple[pa.Array, np.ndarray | None]:
        """(cleaned distinct values, row → value index) for a dictionary column, else (cleaned rows, None)."""
        d = self.values(name)
        return (self(name), None) if d is None else d

    def __call__(self, name: str) -> pa.Array:
        if name not in self._text:
            d = self.values(name)
            if d is not None:
                self._text[name] = d[0].take(pa.array(d[1]))
            else:
                self._text[name] = nz.clean(self.table.column(name), unicode=name in _UNICODE_TEXT)
        return self._text[name]

    def optional(self, name: str) -> pa.Array:
        """The cleaned column with blank cells as nulls."""
        d = self.values(name)
        if d is None:
            return pc.if_else(pa.array(self.blank(name)), pa.nulls(self.n, pa.string()), self(name))
        values = pc.if_else(pa.array(nz.blank(d[0])), pa.nulls(len(d[0]), pa.string()), d[0])
        return values.take(pa.array(d[1]))

    def blank(self, name: str) -> BoolArray:
        if name not in self._blank:
            self._blank[name] = self.per_value(name, nz.blank)
        return self._blank[name]

    def per_value(self, name: str, fn: Any) -> Any:
        """``fn`` (text array → numpy array) applied per distinct value when possible, per row otherwise."""
        d = self.values(name)
        if d is None:
            return fn(self(name))
        return np.take(fn(d[0]), d[1], axis=-1)



def _spread(per_value: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """Per-value results (last axis) spread to rows by index; unchanged when already per row."""
    return per_value if rows is None else np.take(per_value, rows, axis=-1)


_MUL = np.uint64(0x9E3779B97F4A7C15)


def string_hash(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each string from its Arrow bytes (nulls hash like ""); see :func:`kernels.hash_strings`."""
    return kernels.hash_strings(arr)


@functools.cache
def _status_hash() -> np.ndarray:
    """:func:`string_hash` of each status name, made at the first parse (not at import)."""
    return string_hash(_STATUS_ARRAY)


def _has_duplicates(h: np.ndarray) -> bool:
    """Whether any 64-bit value occurs twice."""
    return kernels.has_duplicates(h)


#: hash columns of the parse that :meth:`InvoiceValidator._remember` reads for the (tax id, name) pairs
_PAIR_HASHES = ("__h_seller_tax_id", "__h_seller_name", "__h_buyer_tax_id", "__h_buyer_name")


def _fingerprint(table: pa.Table) -> np.ndarray:
    """A 64-bit hash of each row's content columns (:data:`CONTENT_COLUMNS`), vectorised with numpy."""
    h = np.zeros(table.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in CONTENT_COLUMNS:
            col = table.column(name)
            if f"__h_{name}" in table.column_names:
                part = np.asarray(table.column(f"__h_{name}").to_numpy(), dtype=np.uint64)
            elif pa.types.is_string(col.type):
                part = string_hash(col)
            else:
                if pa.types.is_floating(col.type):
                    col = pc.round(pc.multiply(col, 10000)).cast(pa.int64())
                part = np.asarray(pc.fill_null(col.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)).view(np.uint64)
            h = (h ^ part) * _MUL
            h ^= h >> np.uint64(29)
    return h


class _SeenIndex:
    """Keys accepted from earlier batches: a hash table of 64-bit key hashes (first position wins), with the
    keys themselves kept to rule out hash collisions, and each key's fingerprint and total.

    Fingerprints and totals live in arrays grown by doubling and keys stay in their batches' arrays, so
    adding a batch or reading a few positions never copies what earlier batches added.
    """

    def __init__(self) -> None:
        self._table = kernels.HashPositions()
        self._keys: list[pa.Array] = []
        self._starts: list[int] = []
        self._fp = np.zeros(0, np.uint64)
        self._total = np.zeros(0, np.int64)
        self.size = 0

    def reserve(self, n: int) -> None:
        """Make room for ``n`` keys in all (a hint: adding more still works)."""
        self._table.reserve(n)
        if n > len(self._fp):
            self._fp = np.concatenate([self._fp[: self.size], np.zeros(n - self.size, np.uint64)])
            self._total = np.concatenate([self._total[: self.size], np.zeros(n - self.size, np.int64)])

    def add(self, keys: pa.Array, fp: np.ndarray, total: np.ndarray, h: np.ndarray | None = None) -> None:
        if len(keys) == 0:
            return
        self._table.add(string_hash(keys) if h is None else h)
        end = self.size + len(keys)
        if end > len(self._fp):
            self.reserve(max(end, 2 * len(self._fp), 1024))
        self._fp[self.size: end] = fp
        self._total[self.size: end] = total
        self._keys.append(keys)
        self._starts.append(self.size)
        self.size = end

    @property
    def fingerprints(self) -> np.ndarray:
        """Fingerprint of each key, by position."""
        return self._fp[: self.size]

    @property
    def totals(self) -> np.ndarray:
        """Total (fen) of each key's invoice, by position."""
        return self._total[: self.size]

    def keys_at(self, pos: np.ndarray) -> pa.Array:
        """The keys at positions ``pos`` (taken from the batches holding them only)."""
        if len(pos) == 0:
            return pa.array([], pa.string())
        chunk = np.searchsorted(np.asarray(self._starts, dtype=np.int64), pos, side="right") - 1
        order = np.argsort(chunk, kind="stable")
        parts = np.split(order, np.flatnonzero(np.diff(chunk[order])) + 1)
        taken = pa.concat_arrays([self._keys[int(chunk[p[0]])].take(pa.array(pos[p] - self._starts[int(chunk[p[0]])]))
                                  for p in parts])
        back = np.empty(len(order), dtype=np.int64)
        back[order] = np.arange(len(order))
        return taken.take(pa.array(back))   # back to the order of ``pos``

    def lookup(self, keys: pa.Array, h: np.ndarray | None = None) -> np.ndarray:
        """Position of each key among those added, or -1 (``h``: the keys' :func:`string_hash`, if known)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if self.size == 0 or len(keys) == 0:
            return out
        out = self._table.lookup(string_hash(keys) if h is None else h)
        found = np.flatnonzero(out >= 0)
        if len(found):  # rule out hash collisions
            stored = self.keys_at(out[found])
            same = nz.np_bool(pc.equal(stored, keys.take(pa.array(found))))
            out[found[~same]] = -1
        return out


class InvoiceValidator:
    """Validates invoice batches; one instance per file so duplicates and red totals span batches.

    Parameters
    ----------
    store
        When given, keys already in the store are checked: identical re-loads are skipped, conflicting
        ones rejected as ``duplicate_key``; red-letter originals are looked up there too.
    limits
        ``{tax_id: invoice_limit_fen}`` from the taxpayers file (``over_limit``).
    now
        Epoch seconds counted as "now" for ``date_future`` (default: the clock).
    """

    def __init__(self, store: Store | None = None, *, limits: Mapping[str, int] | None = None,
                 now: int | None = None, tolerance_fen: int | None = None, tz: str | None = None) -> None:
        self.store = store
        self.tz = tz or settings.get("FAPIAO_TIMEZONE")
        self.now = now if now is not None else nz.now_epoch(self.tz)
        self.tolerance = tolerance_fen if tolerance_fen is not None else settings.get_int("FAPIAO_TAX_TOLERANCE_FEN")
        lim = dict(limits or {})
        self._limit_ids = pa.array(list(lim.keys()), pa.string())
        self._limit_fen = np.array(list(lim.values()), dtype=np.int64)
        self._seen = _SeenIndex()
        self._red_sums: dict[str, int] = {}
        self._names: list[pa.Table] = []
        self._pairs = kernels.HashPositions()   # hashes of the (tax id, name) pairs kept in ``_names``
        self._deferred: list[tuple[pa.Table, pa.Table, np.ndarray]] = []   # (raw rows, parsed rows, row numbers)

    # --- cross-batch state ------------------------------------------------------------------------
    def expect(self, rows: int) -> None:
        """Size the cross-batch key index for about ``rows`` invoices up front (saves re-hashing as it grows)."""
        self._seen.reserve(min(max(rows, 0), MAX_RESERVE))

    def _remember(self, accepted: pa.Table, fp: np.ndarray, key_hash: np.ndarray | None = None) -> None:
        if accepted.num_rows == 0:
            return
        self._seen.add(accepted.column("key").combine_chunks(), fp,
                       np.asarray(accepted.column("total_fen").to_numpy(), dtype=np.int64), key_hash)
        for side in ("seller", "buyer"):   # (tax id, name) pairs not kept yet, found by their 64-bit hash
            cols = [f"{side}_tax_id", f"{side}_name"]
            if f"__h_{cols[0]}" in accepted.column_names:
                with np.errstate(over="ignore"):
                    pair = (np.asarray(accepted.column(f"__h_{cols[0]}").to_numpy(), dtype=np.uint64) * _MUL
                            ^ np.asarray(accepted.column(f"__h_{cols[1]}").to_numpy(), dtype=np.uint64))
                first = np.flatnonzero(kernels.first_occurrence(pair) == np.arange(len(pair)))
                first = first[self._pairs.lookup(pair[first]) < 0]   # pairs no earlier batch had
                self._pairs.add(pair[first])
                sub = accepted.select(cols).take(pa.array(first))
            else:
                sub = accepted.select(cols).group_by(cols).aggregate([])
            self._names.append(sub.rename_columns(["tax_id", "name"]))

    def add_names(self, table: pa.Table) -> None:
        """Register (tax_id, name) pairs from a taxpayers file for ``name_conflict``."""
        self._names.append(table.select(["tax_id", "name"]).group_by(["tax_id", "name"]).aggregate([]))

    def name_conflicts(self) -> dict[str, list[str]]:
        """Tax ids seen with more than one name so far (``name_conflict`` warnings)."""
        if not self._names:
            return {}
        # distinct (tax id, name) pairs as dictionary codes, counted per tax id in numpy (two Arrow group_bys cost
        # ≈ 3 ms whatever the size: paid by every API group)
        pairs = pa.concat_tables(self._names)
        tax = pc.dictionary_encode(pairs.column("tax_id").combine_chunks(), null_encoding="encode")
        name = pc.dictionary_encode(pairs.column("name").combine_chunks(), null_encoding="encode")
        width = np.int64(len(name.dictionary) + 1)
        codes = np.unique(tax.indices.to_numpy().astype(np.int64) * width + name.indices.to_numpy())
        t_of = codes // width
        multi = np.flatnonzero(np.bincount(t_of, minlength=len(tax.dictionary)) > 1)
        if multi.size == 0:
            return {}
        tax_ids, names = tax.dictionary.to_pylist(), name.dictionary.to_pylist()
        of_name = (codes % width).tolist()           # codes are sorted: each tax id's pairs are one run
        starts, ends = np.searchsorted(t_of, multi, "left").tolist(), np.searchsorted(t_of, multi, "right").tolist()
        return {tax_ids[t]: sorted(names[j] for j in of_name[a:b])
                for t, a, b in zip(multi.tolist(), starts, ends, strict=True)}

    # --- the checks -------------------------------------------------------------------------------
    def parse(self, raw: pa.Table) -> tuple[pa.Table, list[Issue]]:
        """Parse canonical text columns into schema.INVOICES columns and collect row-level issues.

        Reads only the validator's settings (no cross-batch state): safe to run on several threads at once.
        """
        n = raw.num_rows
        issues: list[Issue] = []

        def add(rule: str, fld: str, mask: BoolArray, detail: str = "") -> None:
            if mask.any():
                issues.append(Issue(rule, fld, np.flatnonzero(mask), detail))

        _col = _Columns(raw)
        number, code = _col("invoice_number"), _col("invoice_code")
        number_blank, code_blank = _col.blank("invoice_number"), _col.blank("invoice_code")
        num_len, num_digits = kernels.digit_shape(number)
        code_len, code_digits = kernels.digit_shape(code)
        num_digits &= (num_len == 8) | (num_len == 20)
        code_digits &= (code_len == 10) | (code_len == 12)
        add("missing_field", "invoice_number", number_blank)
        add("invoice_number_format", "invoice_number", ~number_blank & ~num_digits)
        add("invoice_code_format", "invoice_code", ~code_blank & ~code_digits)
        add("invoice_code_format", "invoice_code", code_blank & num_digits & (num_len == 8),
            "an 8-digit number needs its 10/12-digit code")
        add("invoice_code_format", "invoice_code", ~code_blank & code_digits & num_digits & (num_len == 20),
            "20-digit digital invoice numbers have no code")

        issued, date_ok = nz.parse_datetime(_col("issue_date"), self.tz)
        date_blank = _col.blank("issue_date")
        add("missing_field", "issue_date", date_blank)
        add("date_unparseable", "issue_date", ~date_blank & ~date_ok)
        add("date_future", "issue_date", date_ok & (issued > self.now))

        ids: dict[str, pa.Array] = {}
        id_hash: dict[str, np.ndarray] = {}
        for side in ("seller", "buyer"):
            name = f"{side}_tax_id"
            values, rows = _col.distinct(name)
            upper = pc.utf8_upper(values)   # once per distinct value; spread to rows below
            ids[side] = upper if rows is None else upper.take(pa.array(rows))
            t_blank = _col.blank(name)
            id_hash[side] = _spread(string_hash(upper), rows)
            well, check_ok, legacy = _spread(np.stack(_id_checks(upper)), rows)
            add("missing_field", f"{side}_tax_id", t_blank)
            add("tax_id_format", f"{side}_tax_id", ~t_blank & ~well & ~legacy)
            add("tax_id_check", f"{side}_tax_id", well & ~check_ok, "check character does not match")
            add("tax_id_check", f"{side}_tax_id", legacy & date_ok & (issued >= USCC_SWITCH),
                "legacy tax id on an invoice dated 2018 or later")
            add("missing_field", f"{side}_name", _col.blank(f"{side}_name"))
        same = np.flatnonzero((id_hash["seller"] == id_hash["buyer"]) & ~_col.blank("seller_tax_id"))
        if len(same):  # confirm hash matches exactly
            same = same[nz.np_bool(pc.equal(ids["seller"].take(pa.array(same)), ids["buyer"].take(pa.array(same))))]
        same_mask = np.zeros(n, dtype=np.bool_)
        same_mask[same] = True
        add("same_party", "buyer_tax_id", same_mask)
        hashes = {"seller_tax_id": id_hash["seller"], "buyer_tax_id": id_hash["buyer"],
                  "seller_name": _col.per_value("seller_name", string_hash),
                  "buyer_name": _col.per_value("buyer_name", string_hash)}

        money: dict[str, tuple[np.ndarray, BoolArray, BoolArray]] = {}
        for fld in ("amount", "tax_amount", "total_amount"):
            txt = _col(fld)
            val, ok, exempt = nz.parse_fen(txt)
            if fld != "tax_amount":
                ok &= ~exempt
            b = _col.blank(fld)
            add("missing_field", fld, b)
            add("bad_value", fld, ~b & ~ok)
            money[fld] = (val, ok & ~b, exempt)
        amount, a_ok, _ = money["amount"]
        tax, t_ok, tax_exempt = money["tax_amount"]
        total, s_ok, _ = money["total_amount"]
        rate, r_ok, rate_exempt = _col.per_value("tax_rate", lambda a: np.stack(nz.parse_rate(a)))
        r_ok, rate_exempt = r_ok.astype(np.bool_), rate_exempt.astype(np.bool_)
        r_blank = _col.blank("tax_rate")
        add("missing_field", "tax_rate", r_blank)
        add("bad_value", "tax_rate", ~r_blank & ~r_ok)
        r_ok &= ~r_blank
        add("total_mismatch", "total_amount", a_ok & t_ok & s_ok & (amount + tax != total))
        expected = np.sign(amount) * ((np.abs(amount) * rate + 5000) // 10000)
        exempt = tax_exempt | rate_exempt
        add("tax_mismatch", "tax_amount",
            a_ok & t_ok & r_ok & np.where(exempt, tax != 0, np.abs(tax - expected) > self.tolerance))

        status = _col.per_value("status", _status_codes)   # index into STATUS_NAMES; 0 = unknown
        status_bad = status == 0
        add("status_invalid", "status", status_bad)
        digital = num_digits & (num_len == 20)
        add("status_invalid", "status", digital & (status == _STATUS_VOID),
            "digital invoices cannot be voided, only red-lettered")

        ref_blank = _col.blank("red_ref")
        is_red = (status == _STATUS_RED) | ~ref_blank | (a_ok & (amount < 0)) | (s_ok & (total < 0))
        add("red_not_negative", "amount", is_red & a_ok & s_ok & ~((amount < 0) & (total < 0)))
        add("red_ref_missing", "red_ref", is_red & ref_blank, "red-letter invoice without red_ref")
        status = np.where(is_red & ~status_bad, _STATUS_RED, status)

        period = np.searchsorted(_PERIOD_STARTS, issued, side="right") - 1
        allowed = _ALLOWED[np.maximum(period, 0), np.clip(rate, 0, _ALLOWED.shape[1] - 1)]
        allowed &= (period >= 0) & (issued < _PERIODS_END) & (rate >= 0) & (rate < _ALLOWED.shape[1])
        add("rate_for_date", "tax_rate", r_ok & date_ok & ~is_red & ~allowed)

        if len(self._limit_ids):
            lim_idx = _col.per_value("seller_tax_id", lambda a: np.asarray(pc.fill_null(
                pc.index_in(pc.utf8_upper(a), self._limit_ids), -1).to_numpy(zero_copy_only=False), dtype=np.int64))
            has = lim_idx >= 0
            lim = self._limit_fen[np.where(has, lim_idx, 0)]
            add("over_limit", "amount", has & a_ok & ~is_red & (amount >= lim))

        dig_rows = digital & date_ok
        if dig_rows.any():
            # the year is the same in every time zone except within 14 hours of New Year (UTC)
            wrong, unsure = kernels.year_prefix_mismatch(number, issued, dig_rows)
            near = np.flatnonzero(unsure)
            if len(near):
                years = np.asarray(pc.year(pa.array(issued[near], pa.timestamp("s", tz=self.tz))).to_numpy(),
                                   dtype=np.int64)
                prefix = np.asarray(pc.utf8_slice_codeunits(number.take(pa.array(near)), 0, 2).cast(pa.int64())
                                    .to_numpy(zero_copy_only=False), dtype=np.int64)
                wrong[near] = prefix != years % 100
            add("digital_year", "invoice_number", wrong)

        add("missing_field", "item_name", ~_col.blank("item_code") & _col.blank("item_name"))
        for fld in ("quantity", "unit_price"):
            if fld in raw.column_names:
                okq = nz.np_bool(pc.match_substring_regex(_col(fld), r"^-?[0-9]+(\.[0-9]+)?$"))
                add("bad_value", fld, ~_col.blank(fld) & ~okq)

        kind = _col.per_value("invoice_type", _kind_codes)   # index into KIND_NAMES; -1 = not given / unknown
        derived = np.where(digital, _KIND_DIGITAL_ORDINARY, np.where(code_len == 10, _KIND_SPECIAL, _KIND_ORDINARY))
        kind = np.where(kind >= 0, kind, derived)

        key = kernels.join_key(code, number)
        hashes["key"] = string_hash(key)
        hashes["status"] = _status_hash()[status]
        parsed = pa.table({
            "key": key, "number": number, "code": code,
            "issued_at": pa.array(np.where(date_ok, issued, 0), pa.int64()).cast(schema.TIMESTAMP),
            "seller_tax_id": ids["seller"], "seller_name": _col("seller_name"),
            "buyer_tax_id": ids["buyer"], "buyer_name": _col("buyer_name"),
            "amount_fen": pa.array(amount, pa.int64()), "tax_fen": pa.array(tax, pa.int64()),
            "total_fen": pa.array(total, pa.int64()), "rate": pa.array(rate / 10000.0, pa.float64()),
            "kind": _KIND_ARRAY.take(pa.array(kind)), "status": _STATUS_ARRAY.take(pa.array(status)),
            "red_ref": self._ref_keys(_col("red_ref"), code, code_blank, is_red & ~ref_blank),
            "item_code": _col.optional("item_code"), "item_name": _col.optional("item_name"),
        })
        parsed = parsed.cast(schema.INVOICES)
        for col, h in hashes.items():   # row hashes for fingerprints and name pairs (dropped on output)
            parsed = parsed.append_column(f"__h_{col}", pa.array(h, pa.uint64()))
        return parsed, issues

    @staticmethod
    def _ref_keys(red_ref: pa.Array, code: pa.Array, code_blank: BoolArray, rows: BoolArray) -> pa.Array:
        """The key each red-letter row's ``red_ref`` names (null for other rows): ``CODE-NUMBER`` and
        20-digit numbers as given, an 8-digit number with the row's own code."""
        n = len(red_ref)
        idx = np.flatnonzero(rows)
        if len(idx) == 0:
            return pa.nulls(n, pa.string())
        take = pa.array(idx)
        ref, cd = red_ref.take(take), code.take(take)
        keys = pc.if_else(
            pc.or_(pc.match_substring(ref, "-"), pc.equal(pc.utf8_length(ref), 20)), ref,
            pc.if_else(pa.array(code_blank[idx]), ref, pc.binary_join_element_wise(cd, ref, "-")))
        if len(idx) == n:
            return keys
        pos = np.full(n, -1, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        return keys.take(pa.array(pos, mask=pos < 0))

    def validate(self, raw: pa.Table, *, source: pa.Table | None = None, first_row: int = 1) -> BatchOutcome:
        """Validate one batch of canonical text columns (see :mod:`loaders.mapping`).

        ``source`` (the same rows with their original headers) is what :meth:`finish` hands back for
        red-letter rows whose original had not been seen yet (with record numbers counted from
        ``first_row``); it defaults to ``raw``.
        """
        parsed, issues = self.parse(raw)
        return self.decide(source if source is not None else raw, parsed, issues, first_row=first_row)

    def decide(self, source: pa.Table, parsed: pa.Table, issues: list[Issue], *, first_row: int = 1) -> BatchOutcome:
        """The second half of :meth:`validate`: duplicates, red-letter originals and the cross-batch state.

        :meth:`parse` keeps no state, so batches may be parsed on several threads; ``decide`` must then
        be called once per batch, in file order, on one thread.
        """
        return self._decide(source, parsed, issues, np.arange(first_row, first_row + parsed.num_rows), final=False)

    def _decide(self, raw: pa.Table, parsed: pa.Table, issues: list[Issue], rows: np.ndarray,
                *, final: bool) -> BatchOutcome:
        n = parsed.num_rows
        bad = np.zeros(n, dtype=np.bool_)
        for iss in issues:
            if RULES[iss.rule].severity == "error":
                bad[iss.rows] = True
        skipped = np.zeros(n, dtype=np.bool_)
        fp = _fingerprint(parsed)
        keys = parsed.column("key").combine_chunks()

        # duplicates inside the batch: the first good row of a key wins
        key_hash = (np.asarray(parsed.column("__h_key").to_numpy(), dtype=np.uint64)
                    if "__h_key" in parsed.column_names else string_hash(keys))
        cand = np.flatnonzero(~bad)
        if len(cand) and _has_duplicates(key_hash[cand]):
            ck = keys if len(cand) == n else keys.take(pa.array(cand))
            enc = pc.dictionary_encode(ck, null_encoding="encode")   # codes in order of first appearance
            if len(enc.dictionary) < len(ck):
                pos = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
                # a row is its key's first when its code is new, i.e. above every code before it
                first_idx = np.flatnonzero(pos > np.maximum.accumulate(np.concatenate(([-1], pos[:-1]))))
                first_pos = first_idx[pos]
                later = first_pos != np.arange(len(cand))
                same = fp[cand] == fp[cand[first_pos]]
                skipped[cand[later & same]] = True
                dup_rows = cand[later & ~same]
                bad[dup_rows] = True
                if len(dup_rows):
                    issues.append(Issue("duplicate_key", "invoice_number", dup_rows, "earlier in this file"))

        # duplicates of earlier batches, then of the store
        cand = np.flatnonzero(~bad & ~skipped)
        if len(cand) and self._seen.size:
            pos = self._seen.lookup(keys if len(cand) == n else keys.take(pa.array(cand)), key_hash[cand])
            hit = pos >= 0
            same = self._seen.fingerprints[np.where(hit, pos, 0)] == fp[cand]
            skipped[cand[hit & same]] = True
            dup_rows = cand[hit & ~same]
            bad[dup_rows] = True
            if len(dup_rows):
                issues.append(Issue("duplicate_key", "invoice_number", dup_rows, "earlier in this file"))
        cand = np.flatnonzero(~bad & ~skipped)
        if self.store is not None and len(cand):
            ahead = schema.STORE_CODE_PREFIX + "k"      # the store's own key hashes, computed ahead (row_codes)
            asked = keys if len(cand) == n else keys.take(pa.array(cand))
            existing = (self.store.existing_invoice_keys(asked) if ahead not in parsed.column_names else
                        self.store.existing_invoice_keys(asked, store_codes=parsed.column(ahead) if len(cand) == n
                                                         else parsed.column(ahead).take(pa.array(cand))))
            if existing:
                stored = schema.conform(self.store.invoices(sorted(existing)), schema.INVOICES)
                s_idx = pc.index_in(keys.take(pa.array(cand)), stored.column("key").combine_chunks())
                hit = nz.np_bool(pc.is_valid(s_idx))
                pos = np.asarray(pc.fill_null(s_idx, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
                same = _fingerprint(stored)[pos] == fp[cand] if stored.num_rows else np.zeros(len(cand), np.bool_)
                skipped[cand[hit & same]] = True
                dup_rows = cand[hit & ~same]
                bad[dup_rows] = True
                if len(dup_rows):
                    issues.append(Issue("duplicate_key", "invoice_number", dup_rows, "different from the stored invoice"))

        # red-letter invoices: original must exist (this batch, earlier batches, store) and not be exceeded
        red_ref = parsed.column("red_ref").combine_chunks()
        reds = np.flatnonzero(~bad & ~skipped & nz.np_bool(pc.is_valid(red_ref)))
        deferred = np.zeros(n, dtype=np.bool_)
        if len(reds):
            blue_ok = np.flatnonzero(~bad & ~skipped & ~nz.np_bool(pc.is_valid(red_ref)))
            totals: dict[str, int] = {}
            refs = red_ref.take(pa.array(reds))
            # originals in this batch (only keys whose hash some ref has can match)
            blue_ok = blue_ok[kernels.member(key_hash[blue_ok], string_hash(refs))]
            idx = pc.index_in(refs, keys.take(pa.array(blue_ok)))
            batch_tot = np.asarray(parsed.column("total_fen").to_numpy())[blue_ok]
            for r, i in zip(refs.to_pylist(), idx.to_pylist(), strict=True):
                if i is not None and r not in totals:
                    totals[r] = int(batch_tot[i])
            seen_pos = self._seen.lookup(refs)                         # ... in earlier batches
            seen_total = self._seen.totals
            for r, i in zip(refs.to_pylist(), seen_pos.tolist(), strict=True):
                if i >= 0 and r not in totals:
                    totals[r] = int(seen_total[i])
            missing = sorted({r for r in refs.to_pylist() if r not in totals})
            if self.store is not None and missing:
                found = self.store.invoices(missing)
                for k, t in zip(found.column("key").to_pylist(), found.column("total_fen").to_pylist(), strict=True):
                    totals[k] = int(t)
            red_totals = np.asarray(parsed.column("total_fen").to_numpy())[reds]
            no_orig: list[int] = []
            exceeds: list[int] = []
            for row, ref, red_total in zip(reds.tolist(), refs.to_pylist(), red_totals.tolist(), strict=True):
                orig = totals.get(ref)
                if orig is None:
                    no_orig.append(row)
                    continue
                used = self._red_sums.get(ref, 0) - int(red_total)
                if used > orig:
                    exceeds.append(row)
                else:
                    self._red_sums[ref] = used
            if no_orig and not final:
                deferred[no_orig] = True
            elif no_orig:
                bad[no_orig] = True
                issues.append(Issue("red_ref_missing", "red_ref", np.array(no_orig), "original not found"))
            if exceeds:
                bad[exceeds] = True
                issues.append(Issue("red_exceeds_original", "amount", np.array(exceeds)))
        if deferred.any():
            d = np.flatnonzero(deferred)
            self._deferred.append((raw.take(pa.array(d)), parsed.take(pa.array(d)), rows[d]))

        kept_mask = ~bad & ~skipped & ~deferred
        keep = np.flatnonzero(kept_mask)
        # only what is stored and remembered: the parse's other helper columns are not copied row by row; a
        # boolean filter copies the kept rows 2-3x cheaper than taking them by index
        # a store's own codes computed ahead (schema.STORE_CODE_PREFIX) go on with the rows to its writer
        codes = [c for c in parsed.column_names if c.startswith(schema.STORE_CODE_PREFIX)]
        wanted = [*schema.INVOICES.names, *(c for c in _PAIR_HASHES if c in parsed.column_names), *codes]
        accepted = parsed.select(wanted) if len(keep) == n else parsed.select(wanted).filter(pa.array(kept_mask))
        self._remember(accepted, fp[keep], key_hash[keep])
        accepted = accepted.select([*schema.INVOICES.names, *codes])
        out = self._outcome(accepted, bad, skipped, issues, int(deferred.sum()))
        out.keys = keys
        out.kept = np.flatnonzero(~bad & ~deferred)
        return out

    def finish(self) -> tuple[pa.Table, BatchOutcome] | None:
        """Settle red-letter rows whose original was not seen when their batch was checked.

        Returns (raw rows, outcome) with ``rows`` numbering kept in ``raw["__row__"]``, or None.
        """
        if not self._deferred:
            return None
        raw = pa.concat_tables([d[0] for d in self._deferred])
        parsed = pa.concat_tables([d[1] for d in self._deferred])
        rows = np.concatenate([d[2] for d in self._deferred])
        self._deferred = []
        out = self._decide(raw, parsed, [], rows, final=True)
        return raw.append_column("__row__", pa.array(rows, pa.int64())), out

    @staticmethod
    def _outcome(accepted: pa.Table, bad: np.ndarray, skipped: np.ndarray, issues: list[Issue],
                 deferred: int) -> BatchOutcome:
        rejected = np.flatnonzero(bad)
        warnings: list[Issue] = []
        errors: list[Issue] = []
        for iss in issues:
            if RULES[iss.rule].severity == "warning":
                keep = iss.rows[~bad[iss.rows] & ~skipped[iss.rows]]
                if len(keep):
                    warnings.append(Issue(iss.rule, iss.field, keep, iss.detail))
            else:
                errors.append(iss)
        rules, reasons = _rejection_texts(rejected, bad, errors)
        return BatchOutcome(accepted, rejected, rules, reasons, int(skipped.sum()), warnings, deferred,
                            skipped_rows=np.flatnonzero(skipped))


#: Above this many (rejected row, error issue) cells the texts are built row by row instead of from a count matrix.
_MATRIX_CELLS = 10_000_000


def _rejection_texts(rejected: np.ndarray, bad: np.ndarray, errors: list[Issue]) -> tuple[list[str], list[str]]:
    """Per rejected row (ascending): its rule ids joined by ";" (each once) and its reasons joined by " | ", in the
    order of ``errors`` (an issue listing a row twice gives its reason twice).

    Rows hit by the same issues share one text: the issues hitting each row are counted in a (rows × issues)
    matrix and each distinct row of it is put into words once, so a big quarantine costs no per-row Python."""
    n, k = len(rejected), len(errors)
    if n == 0:
        return [], []
    if k == 0 or n * k > _MATRIX_CELLS:
        return _rejection_texts_by_row(rejected, bad, errors)
    at = np.full(len(bad), -1, np.int64)
    at[rejected] = np.arange(n)
    hits = np.zeros((n, k), np.int32)
    for j, iss in enumerate(errors):
        rows = np.asarray(iss.rows, dtype=np.int64)
        rows = rows[bad[rows]]
        if len(rows):
            hits[:, j] = np.bincount(at[rows], minlength=n)
    distinct, inverse = np.unique(hits, axis=0, return_inverse=True)
    rule_text, reason_text = [], []
    for counts in distinct.tolist():
        found = [(errors[j].rule, errors[j].field, errors[j].detail) for j, c in enumerate(counts) for _ in range(c)]
        rule_text.append(";".join(dict.fromkeys(rule for rule, _, _ in found)))
        reason_text.append(" | ".join(describe(rule, fld, detail) for rule, fld, detail in found))
    which = np.asarray(inverse).reshape(-1).tolist()
    return [rule_text[i] for i in which], [reason_text[i] for i in which]


def _rejection_texts_by_row(rejected: np.ndarray, bad: np.ndarray,
                            errors: list[Issue]) -> tuple[list[str], list[str]]:
    """:func:`_rejection_texts` one row at a time (the reference; used when the count matrix would be huge)."""
    per_row: dict[int, list[tuple[str, str, str]]] = {}
    for iss in errors:
        for r in iss.rows[bad[iss.rows]].tolist():
            per_row.setdefault(r, []).append((iss.rule, iss.field, iss.detail))
    rules, reasons = [], []
    for r in rejected.tolist():
        found = per_row.get(r, [])
        rules.append(";".join(dict.fromkeys(rule for rule, _, _ in found)))
        reasons.append(" | ".join(describe(rule, fld, detail) for rule, fld, detail in found))
    return rules, reasons


def describe(rule: str, fld: str, detail: str = "") -> str:
    """One problem in words: ``field: 中文 / English (detail)``."""
    text = f"{fld}: {RULES[rule].reason}"
    return f"{text} ({detail})" if detail else text


def check_invoice(fields: Mapping[str, object], *, store: Store | None = None) -> list[FieldError]:
    """Self-check (自查) one invoice given by interchange column names; every error and warning found.

    Examples
    --------
    >>> errs = check_invoice({"invoice_number": "123"})
    >>> sorted({e.rule for e in errs})
    ['invoice_number_format', 'missing_field']
    """
    from loaders.mapping import INVOICE_COLUMNS

    unknown = sorted(set(fields) - set(INVOICE_COLUMNS))
    row = {c: ("" if fields.get(c) is None else str(fields.get(c))) for c in INVOICE_COLUMNS}
    raw = pa.table({c: pa.array([v], pa.string()) for c, v in row.items()})
    validator = InvoiceValidator(store)
    parsed, issues = validator.parse(raw)
    validator._decide(raw, parsed, issues, np.arange(1), final=True)  # adds duplicate / red issues
    errors: list[FieldError] = []
    for iss in issues:
        errors.append(FieldError(1, iss.field, iss.rule, describe(iss.rule, iss.field, iss.detail),
                                 RULES[iss.rule].severity))
    if unknown:
        errors.append(FieldError(1, ",".join(unknown), "bad_value",
                                 describe("bad_value", ",".join(unknown), "unknown field name"), "error"))
    return errors


def rules_json() -> str:
    """The rule table as JSON (for the docs and the UI)."""
    return json.dumps([r.__dict__ for r in _R], ensure_ascii=False, indent=1)
