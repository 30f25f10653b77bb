"""Group commit for ``POST /invoices`` batches (JSON, Arrow, Parquet bodies): batches that arrive while one is
being written are loaded together, as one in-memory table through the same loader as ``fapiao load`` - one rules pass against the store, one party
numbering, one store transaction - and each request is still answered with its own counts and rejections.

Measured cost of a 1,000-row batch alone: ≈ 215 ms of ≈ 490 ms held the store's one writer (party numbering,
a key probe over every stored invoice, commit). Written one by one, four clients queue behind each other; written
as a group, those fixed costs are paid once per group (docs/api.md, Speed).

What each request sees is what it would see loaded alone, after the batches before it in the group: its rows
are numbered from 1; a row equal to one stored (or sent earlier in the group) is ``skipped_identical``; a row
that conflicts with one is rejected as ``duplicate_key``; a bad row is quarantined with its reasons. A batch
the loader refuses whole (e.g. a required column missing) is refused alone, before the group is formed. If the
group's load fails, each batch is loaded again on its own, so one bad batch cannot fail the others.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.core.errors import ConfigError, InvalidData
from graph.store import Store
from loaders.evidence import Evidence, Staged, evidence_dir
from loaders.load import LoadReport, load_table, parse_rows
from loaders.mapping import resolve_columns
from loaders.rules import InvoiceValidator, Issue
from workbench.api import ingest
from workbench.api.problems import Problem

log = logging.getLogger("fapiao.api")
GROUP_ROWS = 8_000   # at most this many rows in one group (more waiting batches go into the next group)
LINGER_S = 0.05      # how long the writer waits for the batches of senders it has seen lately before it starts
SENDERS_WINDOW_S = 1.0   # how far back "lately" reaches (the most batches in flight at once within it)


@dataclass(frozen=True)
class Batch:
    """One request's invoices: ``table`` of text columns (API field names), and the body as received
    (``original``, kept as the evidence its invoices are indexed to; ``suffix`` names its kind)."""

    table: pa.Table
    original: bytes
    suffix: str = "json"


@dataclass(frozen=True)
class _Prepared:
    """What a batch needs from its own request thread before the writer takes it: the body's SHA-256 and each
    row's invoice key as the evidence index names it (a few ms per 1,000 rows that the one writer thread
    would otherwise spend while the other requests wait)."""

    sha: str
    keys: list[str]


def _prepare(batch: Batch) -> _Prepared:
    return _Prepared(hashlib.sha256(batch.original).hexdigest(), _keys(batch.table))


def _parsed_with_codes(store: Store, table: pa.Table) -> tuple[pa.Table, list[Issue]] | None:
    """The group's rows parsed (:func:`loaders.load.parse_rows`) with the store's own key and party hashes
    (``row_codes`` of the embedded store): computed once for the group and used by both the rules' stored-key
    check and the writer, which would otherwise each hash the keys in a DuckDB statement of their own. None when
    the store has no such codes or the rows do not parse (then :func:`load_table` parses them and says why).

    Done once per group on the writer thread, not per batch on the request threads: a parse costs ≈ 5.7 ms plus
    1.9 per 1,000 rows and the hashes ≈ 6.2 ms plus 0.7 per 1,000 (measured in process), so four 1,000-row
    batches prepared apart cost ≈ 56 CPU-ms against ≈ 22 for their group, and on two cores that outweighed the
    writer's shorter path (bench_api 16:16 UTC: 25,414 vs 33,671 rows/s, server 4.72 vs 2.76 CPU-s)."""
    row_codes = getattr(store, "row_codes", None)
    if row_codes is None:
        return None
    try:
        parsed = parse_rows(table, InvoiceValidator(None))
        return None if parsed is None else (row_codes(parsed[0]), parsed[1])
    except Exception:      # the loader parses it again and answers as it does for any batch
        log.debug("a group could not be parsed ahead of its load", exc_info=True)
        return None


def _prepared(req: _Request) -> _Prepared:
    return req.prepared if req.prepared is not None else _prepare(req.batch)


@dataclass
class _Committed:
    """A group as the writer left it, committed: the loader's report over the whole group and what each batch's
    own answer is cut from (its folder, rows, the group's skipped record numbers)."""

    batches: list[Batch]
    folders: list[Path]
    report: LoadReport
    skipped: np.ndarray
    evidence: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    parts: tuple[list[str], list[list[list[str]]], list[str], list[list[list[str]]]] | None = None

    def split(self) -> tuple[list[str], list[list[list[str]]], list[str], list[list[list[str]]]]:
        """The group's quarantine and warnings cut per batch (read once, by whichever batch asks first)."""
        with self.lock:
            if self.parts is None:
                sizes = [b.table.num_rows for b in self.batches]
                starts = np.cumsum([1, *sizes[:-1]]).tolist()
                self.parts = (*_split_csv(self.report.quarantine_path, starts, sizes),
                              *_split_csv(self.report.warnings_path, starts, sizes))
            return self.parts


@dataclass
class _Request:
    batch: Batch
    prepared: _Prepared | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: _Committed | None = None
    index: int = 0
    error: BaseException | None = None


def check_columns(table: pa.Table) -> None:
    """Refuse (422) a batch whose rows together lack a required column, as the loader refuses such a file."""
    try:
        resolve_columns(table.column_names, "invoices", source="the batch")
    except (ConfigError, InvalidData) as e:
        raise Problem(422, f"{e}; nothing was stored") from e


def _group_table(batches: list[Batch]) -> pa.Table:
    """All batches' rows as one table (a column one batch lacks is empty there, as in a file)."""
    if len(batches) == 1:
        return batches[0].table
    table = pa.concat_tables([b.table for b in batches], promote_options="default")
    return pa.table({c: pc.fill_null(table.column(c), "") for c in table.column_names})


#: the characters str.strip() removes (Python's whitespace: every c with c.isspace()), for the same trim in Arrow
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _trimmed(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.array([""] * table.num_rows, pa.string())
    column = pc.fill_null(table.column(name).combine_chunks(), "")
    return pc.utf8_trim(column, characters=WHITESPACE)


def _keys(table: pa.Table) -> list[str]:
    """Each row's invoice key as the loader indexes originals (code and number as sent, trimmed): what
    ``schema.invoice_key(code.strip(), number.strip())`` gives, in Arrow (≈ 4 ms per 1,000 rows in Python on the
    writer thread, measured)."""
    code, number = _trimmed(table, "invoice_code"), _trimmed(table, "invoice_number")
    joined = pc.binary_join_element_wise(code, number, "-")
    key: list[str] = pc.if_else(pc.equal(code, ""), number, joined).to_pylist()
    return key


def _split_csv(src: str | None, starts: list[int], sizes: list[int]) -> tuple[list[str], list[list[list[str]]]]:
    """A group CSV (first column ``record``) cut into one list of rows per request, records renumbered from 1."""
    parts: list[list[list[str]]] = [[] for _ in starts]
    if not src:
        return [], parts
    with open(src, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        for row in reader:
            record = int(row[0])
            i = int(np.searchsorted(starts, record, side="right")) - 1
            if 0 <= i < len(starts) and record < starts[i] + sizes[i]:
                parts[i].append([str(record - starts[i] + 1), *row[1:]])
    return header, parts


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    if rows:
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)


def commit_group(store: Store, batches: list[Batch], prepared: list[_Prepared] | None = None) -> _Committed:
    """The writer's part of a group: ``batches`` loaded as one in-memory table through the loader
    (:func:`loaders.load.load_table`, no file round trip), committed. Each batch's own answer, folder and
    evidence file are then made by :func:`answer` (on the batch's own request thread in the API)."""
    prepared = prepared or [_prepare(b) for b in batches]
    out = ingest.batch_dir(store)
    folders = [out] if len(batches) == 1 else [ingest.batch_dir(store) for _ in batches]
    originals: dict[str, tuple[str, str]] = {}
    for b, prep, folder in reversed(list(zip(batches, prepared, folders, strict=True))):   # the first sender wins
        originals.update(dict.fromkeys(prep.keys, (prep.sha, f"{folder.name}.{b.suffix}")))
    out.mkdir(parents=True)
    skipped: list[np.ndarray] = []
    try:
        table = _group_table(batches)
        report = load_table(store, table, label="the batch", report_dir=out, originals=originals,
                            skipped_records=skipped, parsed=_parsed_with_codes(store, table))
    except (InvalidData, ConfigError) as e:    # unreadable, missing columns: refused whole
        raise Problem(422, f"{e}; nothing was stored") from e
    same = np.concatenate(skipped) if skipped else np.zeros(0, np.int64)
    return _Committed(batches, folders, report, same, evidence_dir(store))


def stage(store: Store, data: bytes, sha: str) -> Staged | None:
    """The body written into the evidence folder under a temporary name while the batch waits for the writer (on
    its request thread, beside the writer's commit of the group before): after the commit :func:`answer` only
    renames it into place (:meth:`Evidence.keep`), and a batch that is not stored discards it. None when this
    body is kept already (a re-sent batch). The staging convention is the loader's (:meth:`Evidence.stage_bytes`)."""
    return Evidence(evidence_dir(store)).stage_bytes(data, sha)


def answer(group: _Committed, i: int, sha: str | None = None, staged: Staged | None = None) -> dict[str, Any]:
    """Batch ``i``'s own answer (as :func:`ingest.summary` gives it) from its committed group: its body kept as
    evidence; in a group of several, its own folder under ``loads/`` (its ``load_id``) with its rejected rows
    (``quarantine.csv``, records numbered within the batch), its warnings and ``report.json`` naming the
    group's folder (``group``), which holds the loader's files for the whole group. ``sha``: the body's SHA-256
    when already computed; ``staged``: the body written by :func:`stage` (then only renamed into place)."""
    b, mine = group.batches[i], group.folders[i]
    meta = {"source": f"POST /invoices ({mine.name})", "size": len(b.original), "kind": f"api-{b.suffix}"}
    if staged is not None:
        Evidence(group.evidence).keep(staged.path, meta=meta, staged=staged)
    else:
        Evidence(group.evidence).keep_bytes(b.original, sha=sha, meta=meta)
    if len(group.batches) == 1:
        return ingest.summary(group.report, mine.name)
    q_head, q_parts, w_head, w_parts = group.split()
    size = b.table.num_rows
    start = 1 + sum(x.table.num_rows for x in group.batches[:i])
    mine.mkdir(parents=True)
    _write_csv(mine / "quarantine.csv", q_head, q_parts[i])
    _write_csv(mine / "warnings.csv", w_head, w_parts[i])
    by_rule: Counter[str] = Counter(r for row in q_parts[i] for r in row[1].split(";") if r)
    by_rule.update(row[2] for row in w_parts[i])
    same = group.skipped
    n_same = int(np.count_nonzero((same >= start) & (same < start + size)))
    out = {"load_id": mine.name, "read": size, "loaded": size - len(q_parts[i]) - n_same,
           "rejected": len(q_parts[i]), "skipped_identical": n_same, "warnings": len(w_parts[i]),
           "by_rule": dict(by_rule),
           "rejections": [{"record": int(row[0]), "rules": [r for r in row[1].split(";") if r],
                           "reason": row[2]} for row in q_parts[i]]}
    (mine / "report.json").write_text(json.dumps({**out, "group": group.folders[0].name}, ensure_ascii=False,
                                                 indent=1), encoding="utf-8")
    return out


def load_group(store: Store, batches: list[Batch]) -> list[dict[str, Any]]:
    """Load ``batches`` as one group and answer each (:func:`commit_group`, then :func:`answer` for each): what
    the API's writer and the batches' request threads do between them, on one thread."""
    group = commit_group(store, batches)
    return [answer(group, i) for i in range(len(batches))]


class GroupCommit:
    """One writer thread per API: batches queue here and are committed in groups (:func:`commit_group`); each
    request thread prepares its batch before and makes its own answer after (:func:`answer`), so the writer
    does only what must be done once per group."""

    def __init__(self, store: Store, max_rows: int, group_rows: int = GROUP_ROWS, linger_s: float = LINGER_S) -> None:
        self.store = store
        self.max_rows = max_rows
        self.group_rows = max(group_rows, max_rows)
        self.linger_s = linger_s
        self.queue: list[_Request] = []
        self.cond = threading.Condition()
        self.closed = False
        self.thread: threading.Thread | None = None
        self.groups = self.batches = 0      # how many groups were loaded, holding how many batches (benchmarks)
        self.in_flight = 0                  # batches submitted and not yet answered
        self.peaks = [0, 0]                 # the most in flight at once: in the previous window, in this one
        self.window_start = time.monotonic()

    def _note_in_flight(self) -> None:
        """Keep the most batches in flight at once, over the last one or two windows (called under ``cond``)."""
        now = time.monotonic()
        if now - self.window_start > SENDERS_WINDOW_S:
            self.peaks = [self.peaks[1] if now - self.window_start < 2 * SENDERS_WINDOW_S else 0, 0]
            self.window_start = now
        self.peaks[1] = max(self.peaks[1], self.in_flight)

    def senders(self) -> int:
        """How many batches were in flight at once lately: the clients sending concurrently."""
        with self.cond:
            self._note_in_flight()
            return max(self.peaks)

    def submit(self, batch: Batch) -> dict[str, Any]:
        """Load one batch (with whatever else is waiting) and return its own answer; raises its own Problem."""
        rows = batch.table.num_rows
        if rows > self.max_rows:
            raise Problem(413, f"{rows:,} invoices in one batch; at most {self.max_rows:,} (FAPIAO_API_MAX_ROWS): "
                               "split it; nothing was stored")
        check_columns(batch.table)
        prepared = _prepare(batch)
        req = _Request(batch, prepared)
        with self.cond:
            if self.closed:
                raise Problem(503, "the API is shutting down; nothing was stored: send the batch again")
            self.queue.append(req)
            self.in_flight += 1
            self._note_in_flight()
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="fapiao-api-writer", daemon=True)
                self.thread.start()
            self.cond.notify()
        staged: Staged | None = None
        try:
            try:
                try:    # while the writer commits (this group's turn or the one before)
                    staged = stage(self.store, batch.original, prepared.sha)
                except OSError:     # then kept after the commit, as received
                    log.warning("could not stage a batch body as evidence; keeping it after the commit", exc_info=True)
            finally:
                req.done.wait()
                with self.cond:
                    self.in_flight -= 1
            if req.error is not None:
                raise req.error
            assert req.result is not None
            return answer(req.result, req.index, prepared.sha, staged)
        finally:
            if staged is not None:      # renamed into place by the answer, else removed: nothing left behind
                staged.discard()

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        with self.cond:
            self.closed = True
            self.cond.notify()
            thread = self.thread
        if thread is not None:
            thread.join(timeout=300)

    def _take(self) -> list[_Request]:
        """The next group: what is waiting, after at most ``linger_s`` for the batches of the other senders seen
        lately (their answers have just gone out; their next batches are on the way). Four clients sending one
        batch after another would otherwise be written as groups of 1-3 (2.0 on average, measured): each group
        pays the loader's and the store's fixed costs once (≈ 28 → 20 CPU-ms per 1,000-row batch from groups of
        2 to groups of 4, measured in process). A lone sender is never kept waiting. Starting once half the senders
        wait (two groups of two alternating, so the writer never waits for the clients) was measured slower:
        21,190 rows/s and 4.44 server CPU-s per 100,000 rows against 33,456-33,808 and 3.0 (docs/api.md, Speed)."""
        with self.cond:
            while not self.queue and not self.closed:
                self.cond.wait()
            deadline = time.monotonic() + self.linger_s
            while not self.closed and self._short():
                self._note_in_flight()
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            group: list[_Request] = []
            rows = 0
            while self.queue and (not group or rows + self.queue[0].batch.table.num_rows <= self.group_rows):
                req = self.queue.pop(0)
                group.append(req)
                rows += req.batch.table.num_rows
            return group

    def _short(self) -> bool:
        """Fewer batches wait than senders were seen lately, and they leave room in a group (under ``cond``)."""
        waiting = len(self.queue)
        rows = sum(r.batch.table.num_rows for r in self.queue)
        return waiting < max(self.peaks) and rows < self.group_rows

    def _run(self) -> None:
        while True:
            group = self._take()
            if not group:
                return
            self.groups += 1
            self.batches += len(group)
            try:
                try:
                    committed = commit_group(self.store, [r.batch for r in group], [_prepared(r) for r in group])
                    for i, req in enumerate(group):
                        req.result, req.index = committed, i
                except BaseException as e:
                    if len(group) == 1:
                        group[0].error = e
                    else:       # find the batch that failed: each on its own, the others unaffected
                        for req in group:
                            try:
                                req.result, req.index = commit_group(self.store, [req.batch], [_prepared(req)]), 0
                            except BaseException as alone:
                                req.error = alone
            finally:
                for req in group:
                    req.done.set()
