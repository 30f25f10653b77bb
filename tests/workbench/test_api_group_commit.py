"""Group commit of `POST /invoices` JSON batches: batches loaded together answer exactly as if loaded one after
the other (counts, rejected records and rules, what is stored), each with its own quarantine; one failing batch
does not fail the others; concurrent submissions are grouped."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from graph.core.errors import InvalidData
from graph.embedded import EmbeddedStore
from graph.store import Store
from loaders.evidence import Evidence, evidence_dir
from loaders.load import load_table
from workbench.api import group_commit
from workbench.api.group_commit import Batch, GroupCommit
from workbench.api.models import invoice_table, rows_table
from workbench.api.problems import Problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "invoices.jsonl").read_text(encoding="utf-8").splitlines()]


def _batches() -> list[list[dict[str, Any]]]:
    rows = _rows()
    changed = dict(rows[1], issue_date="2024-03-02 15:30:00")          # same key as a row of batch A, other time
    bad = [dict(rows[0], invoice_number=f"2435000000000000099{i}", invoice_code="", seller_tax_id=f"NOT-A-TAX-ID-{i}")
           for i in range(3)]
    return [rows[0:6] + [bad[0]],                                  # A: six new, one bad
            [bad[1], *rows[6:12], rows[0], changed],               # B: bad first, six new, A's row again, a conflict
            [bad[2]],                                              # C: only a bad row
            rows[2:4]]                                             # D: a re-send of part of A


def _batch(rows: list[dict[str, Any]]) -> Batch:
    raw = json.dumps({"invoices": rows}).encode()
    return Batch(invoice_table(raw), raw)


def load_group(store: Store, batches: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return group_commit.load_group(store, [_batch(b) for b in batches])


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in answer.items() if k not in ("load_id", "rejections")},
            "rejections": [(r["record"], r["rules"]) for r in answer["rejections"]]}


def _stored(store: Store) -> list[dict[str, Any]]:
    return sorted(store.invoice_stream().drop_columns(["issued_at"]).to_pylist(), key=lambda r: r["key"])


def test_a_group_answers_and_stores_exactly_as_the_batches_one_after_the_other(tmp_path: Path) -> None:
    batches = _batches()
    with EmbeddedStore(tmp_path / "one") as one, EmbeddedStore(tmp_path / "group") as grouped:
        alone = [load_group(one, [b])[0] for b in batches]
        together = load_group(grouped, batches)
        assert [_comparable(a) for a in together] == [_comparable(a) for a in alone]
        assert _stored(grouped) == _stored(one) and grouped.counts().invoices == 12
        a, b, c, d = together
        assert (a["loaded"], a["rejected"], a["skipped_identical"]) == (6, 1, 0)
        assert (b["loaded"], b["rejected"], b["skipped_identical"]) == (6, 2, 1)
        assert [r["record"] for r in b["rejections"]] == [1, 9]          # numbered within the batch
        assert "duplicate_key" in b["rejections"][1]["rules"] and b["by_rule"]["duplicate_key"] == 1
        assert (c["loaded"], c["rejected"], d["skipped_identical"], d["loaded"]) == (0, 1, 2, 0)
        loads = tmp_path / "group" / "loads"
        for answer, mine, other in ((a, "NOT-A-TAX-ID-0", "NOT-A-TAX-ID-1"), (b, "NOT-A-TAX-ID-1", "NOT-A-TAX-ID-0")):
            text = (loads / answer["load_id"] / "quarantine.csv").read_text(encoding="utf-8-sig")
            assert mine in text and other not in text
            report = json.loads((loads / answer["load_id"] / "report.json").read_text(encoding="utf-8"))
            assert report["rejected"] == answer["rejected"] and (loads / report["group"]).is_dir()
        assert not (loads / d["load_id"] / "quarantine.csv").exists()
        assert not list(loads.glob("*/batch.parquet"))
        ev = Evidence(evidence_dir(grouped))     # each body as received is the evidence of its own invoices
        for answer, rows in zip(together, batches, strict=True):
            if answer["loaded"]:
                first = next(r for r in rows if not r["seller_tax_id"].startswith("NOT-A"))
                found = ev.originals(f"{first['invoice_code']}-{first['invoice_number']}"
                                     if first.get("invoice_code") else first["invoice_number"])
                assert found and json.loads(ev.path_of(found[0]["sha256"]).read_bytes()) == {"invoices": rows}


def test_one_failing_batch_fails_alone_and_the_others_are_stored(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    real = load_table

    def refuses_poison(store: Any, table: Any, **kw: Any) -> Any:
        if "99999999" in table.column("invoice_number").to_pylist():
            raise InvalidData("the batch: cannot be read")
        return real(store, table, **kw)

    monkeypatch.setattr(group_commit, "load_table", refuses_poison)
    rows = _rows()
    poison = [dict(rows[0], invoice_number="99999999")]
    with EmbeddedStore(tmp_path / "ws") as store:
        writer = GroupCommit(store, max_rows=100)
        writer.queue.extend(group_commit._Request(_batch(b)) for b in (rows[:6], poison, rows[6:]))
        out: dict[str, Any] = {}
        reqs = list(writer.queue)
        t = threading.Thread(target=lambda: out.setdefault("r", writer.submit(_batch(rows[:1]))))
        t.start()
        t.join(timeout=120)
        writer.close()
        assert [group_commit.answer(r.result, r.index)["loaded"] if r.result else None for r in reqs] == [6, None, 6]
        assert isinstance(reqs[1].error, Problem) and reqs[1].error.status == 422
        assert "the batch" in str(reqs[1].error.detail) and "nothing was stored" in str(reqs[1].error.detail)
        assert out["r"]["skipped_identical"] == 1
        assert store.counts().invoices == 12 and store.invoice("3502241130-99999999") is None


def test_concurrent_batches_are_grouped_and_each_gets_its_own_answer(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real = group_commit.commit_group
    sizes: list[int] = []
    writer: GroupCommit

    def gated(store: Any, batches: list[Batch], prepared: Any = None) -> Any:
        if not sizes:               # hold the first group until three more batches wait
            deadline = time.monotonic() + 60
            while len(writer.queue) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        sizes.append(len(batches))
        return real(store, batches, prepared)

    monkeypatch.setattr(group_commit, "commit_group", gated)
    rows = _rows()
    parts = [rows[0:3], rows[3:6], rows[6:9], rows[9:12]]
    with EmbeddedStore(tmp_path / "ws") as store:
        writer = GroupCommit(store, max_rows=100)
        answers: dict[int, dict[str, Any]] = {}
        threads = [threading.Thread(target=lambda i=i: answers.setdefault(i, writer.submit(_batch(parts[i]))))
                   for i in range(4)]
        threads[0].start()
        time.sleep(0.3)
        for t in threads[1:]:
            t.start()
        for t in threads:
            t.join(timeout=120)
        writer.close()
        assert sizes == [1, 3]
        assert [answers[i]["loaded"] for i in range(4)] == [3, 3, 3, 3]
        assert len({answers[i]["load_id"] for i in range(4)}) == 4
        assert store.counts().invoices == 12


def test_a_batch_without_a_required_column_is_refused_before_grouping(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "invoice_number"} for r in _rows()[:2]]
    with EmbeddedStore(tmp_path / "ws") as store:
        writer = GroupCommit(store, max_rows=100)
        with pytest.raises(Problem) as e:
            writer.submit(Batch(rows_table(rows), b""))      # e.g. an Arrow body without the column
        assert e.value.status == 422 and "invoice_number" in str(e.value.detail)
        with pytest.raises(Problem) as too_many:
            writer.submit(_batch(_rows() * 10))
        assert too_many.value.status == 413
        writer.close()
        assert store.counts().invoices == 0 and writer.thread is None


def test_the_writer_waits_briefly_for_the_other_senders_batches(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Four senders seen at once: their next batches, arriving 0.1 s apart, are written as one group (the writer
    lingers for them); a lone sender afterwards is not kept waiting once the senders seen lately are gone."""
    real = group_commit.commit_group
    sizes: list[int] = []

    def counted(store: Any, batches: list[Batch], prepared: Any = None) -> Any:
        sizes.append(len(batches))
        return real(store, batches, prepared)

    monkeypatch.setattr(group_commit, "commit_group", counted)
    monkeypatch.setattr(group_commit, "SENDERS_WINDOW_S", 3.0)
    rows = _rows()
    with EmbeddedStore(tmp_path / "ws") as store:
        writer = GroupCommit(store, max_rows=100, linger_s=5.0)
        with writer.cond:       # four senders in flight at once, as the writer saw them a moment ago
            writer.in_flight = 4
            writer._note_in_flight()
            writer.in_flight = 0
        assert writer.senders() == 4
        answers: dict[int, dict[str, Any]] = {}
        threads = [threading.Thread(target=lambda i=i: answers.setdefault(i, writer.submit(_batch([rows[i]]))))
                   for i in range(4)]
        started = time.monotonic()
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(timeout=120)
        assert sizes == [4] and time.monotonic() - started < 5.0
        assert [answers[i]["loaded"] for i in range(4)] == [1, 1, 1, 1]
        monkeypatch.setattr(group_commit, "SENDERS_WINDOW_S", 0.05)
        time.sleep(0.2)
        t0 = time.monotonic()
        assert writer.submit(_batch([rows[5]]))["loaded"] == 1
        assert time.monotonic() - t0 < 5.0 and sizes == [4, 1]
        writer.close()
        assert store.counts().invoices == 5


def test_a_body_staged_while_waiting_is_kept_once_stored_and_removed_when_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request thread writes its body into the evidence folder while the writer works (pipelined); after the
    commit it is only renamed into place, read-only; a batch that is not stored leaves no file behind."""
    real = load_table
    seen: list[int] = []

    def refuses_poison(store: Any, table: Any, **kw: Any) -> Any:
        files = evidence_dir(store) / "files"
        deadline = time.monotonic() + 10      # the request thread stages beside the writer: wait for it
        while not seen and not list(files.glob(".staged-*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append(len(list(files.glob(".staged-*"))))
        if "99999999" in table.column("invoice_number").to_pylist():
            raise InvalidData("the batch: cannot be read")
        return real(store, table, **kw)

    monkeypatch.setattr(group_commit, "load_table", refuses_poison)
    rows = _rows()
    with EmbeddedStore(tmp_path / "ws") as store:
        writer = GroupCommit(store, max_rows=100)
        try:
            good = _batch(rows[:6])
            assert writer.submit(good)["loaded"] == 6 and seen == [1]     # staged while the writer loaded it
            ev = Evidence(evidence_dir(store))
            kept = ev.path_of(group_commit._prepare(good).sha)
            assert kept.read_bytes() == good.original and not kept.stat().st_mode & 0o222
            assert writer.submit(_batch(rows[:6]))["skipped_identical"] == 6      # a re-send: kept already
            poison = _batch([dict(rows[0], invoice_number="99999999")])
            with pytest.raises(Problem) as refused:
                writer.submit(poison)
            assert refused.value.status == 422
            assert not ev.path_of(group_commit._prepare(poison).sha).exists()
            assert not list((ev.root / "files").glob(".staged-*")) and writer.in_flight == 0
        finally:
            writer.close()


def _all_columns(batches: list[list[dict[str, Any]]]) -> list[Batch]:
    """The batches as an Arrow client sends them: every batch with the same columns (a cell not given is empty)."""
    import pyarrow as pa

    tables = [_batch(b).table for b in batches]
    names = sorted({c for t in tables for c in t.column_names})
    return [Batch(pa.table({c: t.column(c) if c in t.column_names else pa.array([""] * t.num_rows, pa.string())
                            for c in names}), json.dumps({"invoices": b}).encode())
            for t, b in zip(tables, batches, strict=True)]


@pytest.mark.parametrize("columns", ["same", "each its own"])
def test_a_group_hashes_its_keys_once_for_the_rules_and_the_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    """The group's rows are parsed once and the store's key and party hashes computed once (``row_codes``), for
    both the rules' stored-key check and the writer: the answers, invoices, parties and taxpayers are those of the
    group loaded the ordinary way (the rules and the writer each hashing the keys), bad rows, duplicates, batches
    with different columns and a re-send included."""
    import graph.embedded as embedded
    import loaders.load as load

    if columns == "same":
        batches = _all_columns(_batches())
    else:      # batches without some columns: blank in the group's table, absent in their own
        optional = ("invoice_type", "item_code", "item_name", "status")
        batches = [_batch([{k: v for k, v in r.items() if i % 2 == 0 or k not in optional} for r in b])
                   for i, b in enumerate(_batches())]
        assert len({tuple(b.table.column_names) for b in batches}) > 1
    calls: list[str] = []
    real_parse, real_codes = load._parse_batch, embedded.batch_codes
    monkeypatch.setattr(load, "_parse_batch", lambda *a, **k: calls.append("parse") or real_parse(*a, **k))
    monkeypatch.setattr(embedded, "batch_codes", lambda *a, **k: calls.append("codes") or real_codes(*a, **k))
    with EmbeddedStore(tmp_path / "once") as once, EmbeddedStore(tmp_path / "twice") as twice:
        with monkeypatch.context() as m:     # the rules' stored-key check does not hash the keys again
            m.setattr(embedded.q, "KEYS_HASHED", "SELECT no_such_column FROM _keys")
            group = group_commit.commit_group(once, batches)
        assert calls == ["parse", "codes"]
        answers = [group_commit.answer(group, i) for i in range(len(batches))]

        with monkeypatch.context() as m:
            m.setattr(group_commit, "_parsed_with_codes", lambda store, table: None)   # the ordinary way
            calls.clear()
            group = group_commit.commit_group(twice, batches)
        assert calls == ["parse", "codes"]      # the writer's own hashing (the rules' is a statement of its own)
        expected = [group_commit.answer(group, i) for i in range(len(batches))]

        assert [_comparable(a) for a in answers] == [_comparable(a) for a in expected]
        assert sum(a["loaded"] for a in answers) == 12 and sum(a["rejected"] for a in answers) >= 4
        assert _stored(once) == _stored(twice)

        def parties(store: EmbeddedStore) -> list[tuple[Any, ...]]:
            with store._db.read() as cur:
                return sorted(cur.execute("SELECT pid, tax_id, name FROM parties").fetchall())

        assert parties(once) == parties(twice) and parties(once)
        assert sorted(once.taxpayers().to_pylist(), key=str) == sorted(twice.taxpayers().to_pylist(), key=str)
        # and again: every row a re-send, nothing new stored
        again = group_commit.load_group(once, batches)
        assert sum(a["loaded"] for a in again) == 0 and sum(a["skipped_identical"] for a in again) >= 12
        assert _stored(once) == _stored(twice)
