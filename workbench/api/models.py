"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired, Required

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# pydantic needs typing_extensions' TypedDict before Python 3.12 (pydantic itself depends on that package)
from typing_extensions import TypedDict

from graph.core.model import Invoice, Ring, Run

Number = str | int | float
NUMBER_RE = r"^(\d{8}|\d{20})$"
CODE_RE = r"^(\d{10}|\d{12})$"
AMOUNT_RE = r"^-?\d{1,13}(\.\d{1,2})?$"   # a red-letter invoice (红字发票) is verified with its negative amount


class InvoiceIn(BaseModel):
    """One invoice in the interchange format (docs/data-format.md); values are checked by the loader's rules."""

    model_config = ConfigDict(extra="forbid")
    invoice_number: str = Field(max_length=64)
    invoice_code: str | None = Field(default=None, max_length=64)
    issue_date: str = Field(max_length=64, description="ISO date or datetime, e.g. 2024-01-05")
    seller_tax_id: str = Field(max_length=64)
    seller_name: str | None = Field(default=None, max_length=400)
    buyer_tax_id: str = Field(max_length=64)
    buyer_name: str | None = Field(default=None, max_length=400)
    amount: Number = Field(description="pre-tax amount in yuan")
    tax_amount: Number | None = Field(default=None, description="yuan, or *** when exempt")
    total_amount: Number | None = Field(default=None, description="价税合计, yuan")
    tax_rate: Number | None = Field(default=None, description="13%, 0.13 or 13")
    invoice_type: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    red_ref: str | None = Field(default=None, max_length=64)
    item_code: str | None = Field(default=None, max_length=64)
    item_name: str | None = Field(default=None, max_length=400)
    quantity: Number | None = None
    unit_price: Number | None = None


class InvoiceBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoices: list[InvoiceIn] = Field(description="at most FAPIAO_API_MAX_ROWS invoices")


def _typed_dict(name: str, fields: dict[str, Any], extra: Any) -> Any:
    make: Any = TypedDict
    rows = make(name, fields)
    rows.__pydantic_config__ = ConfigDict(extra=extra)
    return rows


def _as_rows(model: type[BaseModel]) -> Any:
    """A TypedDict with ``model``'s fields, constraints and ``extra``: validating into it yields plain dicts."""
    fields: dict[str, Any] = {}
    for key, f in model.model_fields.items():
        kind = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        fields[key] = Required[kind] if f.is_required() else NotRequired[kind]
    return _typed_dict(f"{model.__name__}Row", fields, model.model_config.get("extra"))


_BATCH = TypeAdapter(_typed_dict("InvoiceRows", {"invoices": list[_as_rows(InvoiceIn)]},  # type: ignore[misc]
                                 InvoiceBatch.model_config.get("extra")))


def invoice_rows(raw: bytes) -> list[dict[str, Any]]:
    """The invoices of a JSON ``POST /invoices`` body, checked against :class:`InvoiceBatch` (same fields and
    constraints) in one pass over the bytes, as plain dicts (``None`` for values sent as null). Raises
    ``pydantic.ValidationError``; malformed JSON is the error type ``json_invalid``.

    The slow, exact path of :func:`invoice_table` (and the one that words every error)."""
    rows: list[dict[str, Any]] = _BATCH.validate_json(raw)["invoices"]
    return rows


_FIELDS = {name: (f.is_required(), f.annotation == Number or f.annotation == Number | None,
                  next((m.max_length for m in f.metadata if getattr(m, "max_length", None) is not None), None))
           for name, f in InvoiceIn.model_fields.items()}
_ALLOWED = frozenset(_FIELDS)
_LARGEST_INT = 2**63


class _NotPlain(Exception):
    """The body is not the plain case the columnar check covers; pydantic decides (and words the error)."""


def _number_text(value: Any) -> str | None:
    """A JSON number as the text the loader reads (``str`` of it, as before); other values are not plain."""
    kind = type(value)
    if value is None or kind is str:
        return value  # type: ignore[no-any-return]
    if (kind is int and -_LARGEST_INT < value < _LARGEST_INT) or (kind is float and math.isfinite(value)):
        return str(value)
    raise _NotPlain


def _column(rows: list[dict[str, Any]], name: str) -> pa.Array | None:
    """One field of every row as a text column (``None`` where a row leaves it out or sends null)."""
    required, number, max_length = _FIELDS[name]
    values = [row.get(name) for row in rows]
    if required and None in values:
        raise _NotPlain
    try:
        column = pa.array(values, pa.string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError) as e:   # a non-text value (or broken text)
        if not number:
            raise _NotPlain from e
        try:
            column = pa.array([_number_text(v) for v in values], pa.string())
        except (pa.ArrowException, TypeError, ValueError, UnicodeError) as e2:
            raise _NotPlain from e2
    if column.null_count == len(column):
        return None
    if max_length is not None and len(column) and pc.max(pc.utf8_length(column)).as_py() > max_length:
        raise _NotPlain
    return column


def _columns(doc: Any) -> pa.Table:
    """The batch as a table of text columns when every row is plainly valid; else :class:`_NotPlain`."""
    if type(doc) is not dict or doc.keys() != {"invoices"} or type(doc["invoices"]) is not list:
        raise _NotPlain
    rows: list[dict[str, Any]] = doc["invoices"]
    seen: set[str] = set()
    for row in rows:
        if type(row) is not dict:
            raise _NotPlain
        seen.update(row)
    if not seen <= _ALLOWED:
        raise _NotPlain
    try:    # every value text or null: all fields in one pass in Arrow (≈ 1.6 instead of 3.3 CPU-ms per 1,000 rows)
        struct = pa.array(rows, type=_STRUCT)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        struct = None
    if struct is None:      # numbers (or anything else): field by field
        columns = {name: _column(rows, name) for name in _FIELDS if name in seen or _FIELDS[name][0]}
    else:
        columns = {name: _checked(struct.field(i), name) for i, name in enumerate(_FIELDS)}
    return text_table({name: c for name, c in columns.items() if c is not None}, len(rows))


_STRUCT = pa.struct([(name, pa.string()) for name in _FIELDS])


def _checked(column: pa.Array, name: str) -> pa.Array | None:
    """A text column as :func:`_column` leaves it: None when no row gives it; required and max length checked."""
    required, _, max_length = _FIELDS[name]
    if required and column.null_count:
        raise _NotPlain
    if column.null_count == len(column):
        return None
    if max_length is not None and len(column) and pc.max(pc.utf8_length(column)).as_py() > max_length:
        raise _NotPlain
    return column


def max_lengths() -> dict[str, int]:
    """The longest text each field may hold (as the JSON schema says)."""
    return {name: longest for name, (_, _, longest) in _FIELDS.items() if longest is not None}


def text_table(columns: dict[str, pa.Array], rows: int) -> pa.Table:
    """Text columns as the loader reads a file of them: a cell a row does not give is empty."""
    if not columns:
        return pa.table({"_": pa.nulls(rows, pa.string())}).drop_columns(["_"])
    return pa.table({name: pc.fill_null(c, "") if c.null_count else c for name, c in columns.items()})


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows validated by :func:`invoice_rows` as text columns (JSON numbers as Python's ``str`` writes them);
    columns no row gives are left out, as a file without them would be."""
    columns = {name: pa.array([v if v is None or isinstance(v, str) else str(v) for v in
                               (row.get(name) for row in rows)], pa.string()) for name in _FIELDS}
    return text_table({n: c for n, c in columns.items() if c.null_count < len(c)}, len(rows))


def invoice_table(raw: bytes) -> pa.Table:
    """The invoices of a JSON ``POST /invoices`` body as a table of text columns, checked against
    :class:`InvoiceBatch` (the OpenAPI document's schema: same fields, required ones, max lengths, no others).

    Fast path: one ``json.loads`` and a check per column (≈ 3 µs per row instead of pydantic's ≈ 6 per row for
    the same body, measured). Any body that path does not plainly accept (malformed JSON, a missing or unknown
    field, a number where text is due, an over-long value ...) goes through pydantic, which raises the
    ``ValidationError`` the client gets (``json_invalid`` for malformed JSON) or accepts it as before."""
    try:
        return _arrow_columns(raw)
    except _NotPlain:
        pass
    try:
        return _columns(json.loads(raw))
    except (_NotPlain, ValueError, RecursionError):
        return rows_table(invoice_rows(raw))


_BODY = pa.schema([("invoices", pa.list_(_STRUCT))])
_PARSE = pajson.ParseOptions(explicit_schema=_BODY, unexpected_field_behavior="error", newlines_in_values=True)


def _arrow_columns(raw: bytes) -> pa.Table:
    """The body read by Arrow's JSON reader straight into text columns (≈ 3.5 instead of ≈ 7-14 CPU-ms per
    1,000 rows through ``json.loads``, measured, and without holding the GIL) when it is plainly valid: one object
    with only ``invoices``, a list of objects of the documented fields, every value text or null. Anything else
    (a number, an unknown field, a duplicate key, two objects, broken UTF-8 ...) is :class:`_NotPlain`."""
    if raw[:3] == b"\xef\xbb\xbf":
        raise _NotPlain
    try:
        table = pajson.read_json(pa.BufferReader(raw), parse_options=_PARSE, read_options=pajson.ReadOptions(
            use_threads=False, block_size=max(len(raw) + 1, 1 << 16)))
        if table.num_rows != 1:
            raise _NotPlain
        lists = table.column(0).combine_chunks()
        if lists.null_count:
            raise _NotPlain
        struct = lists.flatten()
        if struct.null_count:
            raise _NotPlain
        struct.validate(full=True)          # UTF-8 (the reader does not check it)
    except (pa.ArrowException, ValueError, UnicodeError) as e:
        raise _NotPlain from e
    columns = {name: _checked(column, name) for name, column in zip(_FIELDS, struct.flatten(), strict=True)}
    return text_table({name: c for name, c in columns.items() if c is not None}, len(struct))


class Rejection(BaseModel):
    record: int = Field(description="1-based position in the batch")
    rules: list[str]
    reason: str


class LoadResult(BaseModel):
    """What ``fapiao load`` reports: read = loaded + rejected + skipped_identical."""

    load_id: str = Field(description="folder under <workspace>/loads/ holding report.json and quarantine.csv")
    read: int
    loaded: int
    rejected: int
    skipped_identical: int
    warnings: int
    by_rule: dict[str, int]
    rejections: list[Rejection]
    detection_job: str | None = Field(default=None, description="the detection job started or queued for this "
                                      "batch (FAPIAO_API_DETECT_ON_LOAD=1); poll GET /runs/{job_id}")


class VerifyIn(BaseModel):
    """What the 查验 platform asks for: number (+ code for paper invoices), issue date, amount."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=NUMBER_RE, description="发票号码: 8 digits (with code) or 20 digits (数电)")
    code: str | None = Field(default=None, pattern=CODE_RE, description="发票代码; omit for 数电 invoices")
    issue_date: date = Field(description="开票日期")
    amount: str = Field(pattern=AMOUNT_RE, examples=["1130.42"],
                        description="pre-tax amount (金额) or total (价税合计), yuan, as text with at most 2 decimals; "
                                    "negative for a red-letter invoice (红字发票), as printed on it")

    def amount_fen(self) -> int:
        return int((Decimal(self.amount) * 100).to_integral_value())


class VerifyMatches(BaseModel):
    code: bool | None = Field(description="None when no code was given")
    issue_date: bool
    amount: bool


class VerifyOut(BaseModel):
    result: Literal["consistent", "inconsistent", "not_found"] = Field(
        description="consistent = 查验一致; inconsistent = the invoice exists but a given field differs; not_found = 查无此票")
    exists: bool
    status: Literal["normal", "void", "red_letter", "out_of_control", "abnormal", "red_offset"] | None = None
    matches: VerifyMatches | None = None
    invoice: Invoice | None = Field(default=None, description="only when every given field matches")


class RingOut(BaseModel):
    ring_id: str
    run_id: str
    kind: str
    members: list[str]
    invoice_keys: list[str]
    score: float
    evidence: str
    details: dict[str, Any]

    @classmethod
    def of(cls, r: Ring, *, with_invoices: bool = True) -> RingOut:
        return cls(ring_id=r.ring_id, run_id=r.run_id, kind=r.kind, members=list(r.members),
                   invoice_keys=list(r.invoice_keys) if with_invoices else [], score=r.score,
                   evidence=r.evidence, details=r.details)


class RingPage(BaseModel):
    run_id: str | None
    total: int
    rings: list[RingOut]


class TaxpayerOut(BaseModel):
    tax_id: str
    name: str
    registered_on: date | None
    industry: str | None
    region: str | None
    invoice_limit_fen: int | None
    status: str | None
    run_id: str | None = Field(description="the detection run the tier comes from (newest)")
    tier: Literal["low", "medium", "high"] | None
    model_tier: Literal["low", "medium", "high"] | None
    overridden: bool
    score: float | None
    reasons: list[str]
    rings: list[RingOut]


class RunOut(BaseModel):
    run_id: str
    created_at: datetime
    params: dict[str, Any]
    stage_seconds: dict[str, float]

    @classmethod
    def of(cls, r: Run) -> RunOut:
        return cls(run_id=r.run_id, created_at=r.created_at, params=r.params, stage_seconds=r.stage_seconds)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_days: int = Field(default=90, ge=1, le=3650)
    max_cycle_len: int = Field(default=10, ge=2, le=12)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class JobOut(BaseModel):
    """A detection started through the API; poll ``GET /runs/{job_id}``."""

    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    started_at: datetime
    finished_at: datetime | None = None
    run_id: str | None = Field(default=None, description="the stored run, once done")
    error: str | None = None
    rings: int | None = None
    tiers: dict[str, int] | None = None


class RunList(BaseModel):
    jobs: list[JobOut]
    runs: list[RunOut]


class AlertOut(BaseModel):
    """One alert of the caller's inbox (docs/alerts.md)."""

    alert_id: str
    rule: str = Field(description="new_high, first_run, new_ring, case_overdue, appeal_overdue, burst, "
                                  "case_assigned, appeal_filed or verify_void")
    subject: str = Field(description="what it is about, as kind:id")
    title: str
    detail: str
    created_at: datetime
    case_id: str | None = None
    assigned: bool = Field(description="the case it concerns is assigned to the caller")
    read_at: datetime | None = None
    data: dict[str, Any]


class AlertList(BaseModel):
    unread: int
    alerts: list[AlertOut]


class AlertsRead(BaseModel):
    """Which alerts to mark read: ``alert_ids``, or every unread one with ``all``."""

    model_config = ConfigDict(extra="forbid")
    alert_ids: list[str] = Field(default_factory=list, max_length=1000)
    all: bool = False


class Marked(BaseModel):
    marked: int
