"""Typed records returned by the store contract (bulk data travels as pyarrow tables, see schema.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Taxpayer:
    tax_id: str
    name: str
    registered_on: date | None = None
    industry: str | None = None
    region: str | None = None
    invoice_limit_fen: int | None = None
    status: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()   # (kind, value) pairs


@dataclass(frozen=True)
class Invoice:
    key: str
    number: str
    code: str
    issued_at: datetime            # timezone-aware
    seller_tax_id: str
    seller_name: str
    buyer_tax_id: str
    buyer_name: str
    amount_fen: int
    tax_fen: int
    total_fen: int
    rate: float
    kind: str
    status: str
    red_ref: str | None = None
    item_code: str | None = None
    item_name: str | None = None


@dataclass(frozen=True)
class Subgraph:
    """An ego network: the taxpayers kept (most relevant first) and the aggregated edges among them."""

    center: str
    nodes: list[Taxpayer]
    hops: dict[str, int]           # tax_id -> distance from the center
    edges: pa.Table                # schema.EDGES, only between kept nodes
    truncated: bool = False        # True when the node limit cut nodes
    dropped: int = 0               # how many reachable nodes were cut


@dataclass(frozen=True)
class Counts:
    taxpayers: int
    invoices: int
    identifiers: int
    runs: int
    rings: int


@dataclass(frozen=True)
class Run:
    """One detection run: parameters + data fingerprint make findings reproducible."""

    run_id: str
    created_at: datetime
    params: dict[str, Any]
    fingerprint: str
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ring:
    """A suspicious group: a temporal cycle, a community, a shared-identity cluster, a hub ..."""

    ring_id: str
    run_id: str
    kind: str                      # cycle | community | shared_identity | fan_hub | ...
    members: tuple[str, ...]       # tax ids
    invoice_keys: tuple[str, ...]  # the invoices that make the finding, in time order where it matters
    score: float                   # 0..1
    evidence: str                  # plain-language summary for an investigator
    details: dict[str, Any] = field(default_factory=dict)   # JSON-able extras (hops, drift, window ...)


@dataclass(frozen=True)
class RingRow:
    """One ring of a list (Store.rings_page) with the time span and total of its invoices the store holds."""

    ring: Ring
    first: datetime | None         # issue time of its first stored invoice; None when none is stored
    last: datetime | None
    fen: int                       # total_fen of its stored invoices (a key named twice counts twice)


@dataclass(frozen=True)
class RingQuery:
    """The filters of Store.rings_page / rings_count; None or 0 filters nothing."""

    kinds: tuple[str, ...] | None = None     # ring kinds to keep
    min_score: float = 0.0
    min_fen: int = 0                          # minimum total of its stored invoices
    start: datetime | None = None             # keep rings whose span [first, last] meets [start, end);
    end: datetime | None = None               # with either set, a ring without stored invoices is left out


@dataclass(frozen=True)
class ScoreQuery:
    """The filters of Store.scores_page / scores_count; None filters nothing, an empty tuple keeps nothing."""

    tiers: tuple[str, ...] | None = None      # on the tier in force: ``overrides`` where given, else the model's
    min_score: float = 0.0
    industries: tuple[str, ...] | None = None
    regions: tuple[str, ...] | None = None
    text: str | None = None                   # the name contains it or the tax id starts with it
    tax_ids: tuple[str, ...] | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)   # tax id -> tier in force (supervisors' overrides)


ANY_RING = RingQuery()     #: no ring filter (the default of Store.rings_page)
ANY_SCORE = ScoreQuery()   #: no score filter (the default of Store.scores_page)


@dataclass(frozen=True)
class AuditEvent:
    """One append-only, hash-chained audit event (hashing lives in workbench/audit.py)."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: str
    prev_hash: str
    hash: str
