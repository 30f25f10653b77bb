"""Fast update (快速更新): provisional rows of the affected taxpayers with the last exact run's calibration frozen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from graph.core.errors import QueryError
from graph.embedded import EmbeddedStore
from tests.helpers.detect_data import small_generated, tables_from_generated
from workbench import alerts, audit, fast_update, users
from workbench.cli import cli
from workbench.detect import run_detection

Tables = tuple[pa.Table, pa.Table, pa.Table]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_generated(tmp_path_factory.mktemp("gen"))


@pytest.fixture(scope="module")
def tables(generated: Path) -> Tables:
    return tables_from_generated(generated)


def _store(tmp_path: Path, tables: Tables, invoices: pa.Table) -> EmbeddedStore:
    _, tp, ids = tables
    store = EmbeddedStore(tmp_path / "ws")
    with store.writer() as w:
        w.taxpayers(tp)
        w.identifiers(ids)
        w.invoices(invoices)
    return store


def _rows(scores: pa.Table) -> dict[str, dict[str, Any]]:
    return {r["tax_id"]: r for r in scores.to_pylist()}


def test_the_calibration_reproduces_the_run_it_froze(tables: Tables, tmp_path: Path) -> None:
    """Scored from the same invoices with the run's calibration, every taxpayer gets the run's score, tier, reasons
    and features: the frozen model, evidence and rows are the run's."""
    inv, tp, _ = tables
    store = _store(tmp_path, tables, inv)
    run = run_detection(store)
    cal = fast_update.load(store)
    assert cal is not None and cal.run_id == run.run.run_id and cal.model is not None
    fast = fast_update.score_rows(cal, inv.to_pandas(), tp.to_pandas(), tp.column("tax_id").to_pylist())
    mine, theirs = _rows(fast.scores), _rows(run.scores)
    assert mine.keys() <= theirs.keys() and len(mine) == tp.num_rows
    assert {t: (r["score"], r["tier"], r["reasons"]) for t, r in mine.items()} == \
        {t: (theirs[t]["score"], theirs[t]["tier"], theirs[t]["reasons"]) for t in mine}
    assert sum(r["tier"] == "high" for r in mine.values()) >= 1


def test_fast_rows_from_own_invoices_equal_the_whole_table(tables: Tables, tmp_path: Path) -> None:
    """Locality: three random batches (spread over the whole span, so older invoices arrive after newer ones)
    arrive after one exact run; after each, the affected taxpayers' rows computed from their own invoices (the
    store's parameterised read) equal the same frozen scoring computed over the whole table."""
    inv, tp, _ = tables
    part = np.random.default_rng(11).integers(0, 40, inv.num_rows)      # three batches of ~150 invoices
    store = _store(tmp_path, tables, inv.filter(pa.array(part >= 3)))
    run_detection(store)
    cal = fast_update.load(store)
    assert cal is not None
    have = part >= 3
    for b in (0, 1, 2):
        batch = inv.filter(pa.array(part == b))
        with store.writer() as w:
            w.invoices(batch)
        have |= part == b
        affected = fast_update.batch_taxpayers(batch)
        own = store.invoices_touching(affected)
        whole = inv.filter(pa.array(have)).to_pandas()
        theirs = whole["seller_tax_id"].isin(affected) | whole["buyer_tax_id"].isin(affected)
        assert sorted(own.column("key").to_pylist()) == sorted(whole.loc[theirs, "key"])   # theirs, each once
        # the fast update's lean read: the same rows and order, its columns only; contract columns only
        assert store.invoices_touching(affected, fast_update.COLUMNS).equals(own.select(list(fast_update.COLUMNS)))
        with pytest.raises(QueryError):
            store.invoices_touching(affected, ["key", "issued_at", "1; DROP TABLE invoices"])
        assert theirs.sum() < len(whole)
        end = float(whole["issued_at"].max().timestamp())
        local = fast_update.score_rows(cal, own.to_pandas(), tp.to_pandas(), affected, end=end).scores
        everything = fast_update.score_rows(cal, whole, tp.to_pandas(), affected, end=end).scores
        assert local.num_rows >= len(affected) * 0.9
        assert local.to_pylist() == everything.to_pylist()


def test_changed_taxpayers_are_the_batchs_sellers_and_buyers(tables: Tables, tmp_path: Path) -> None:
    """Without named taxpayers the fast update finds the changed ones from the invoice digests: the parties of
    new invoices, and of an invoice voided since the run."""
    inv, _, _ = tables
    t = inv.column("issued_at").to_numpy()
    recent = t >= np.sort(t)[-200]
    store = _store(tmp_path, tables, inv.filter(pa.array(~recent)))
    run_detection(store)
    cal = fast_update.load(store)
    assert cal is not None and fast_update.changed_taxpayers(store, cal) == []
    batch = inv.filter(pa.array(recent))
    old = inv.filter(pa.array(~recent)).slice(0, 1)
    voided = old.set_column(old.schema.get_field_index("status"), "status", pa.array(["void"]))
    with store.writer() as w:
        w.invoices(batch)
        w.invoices(voided)
    expected = set(fast_update.batch_taxpayers(batch)) | set(fast_update.batch_taxpayers(old))
    assert set(fast_update.changed_taxpayers(store, cal)) == expected
    up = fast_update.run(store, alerts=False)
    assert up is not None and set(up.scores.column("tax_id").to_pylist()) <= expected
    rec = store.record(fast_update.KIND, up.fast_id)
    assert rec is not None and rec["provisional"] and rec["based_on"] == cal.run_id and rec["affected"] >= 1
    # audited in the same transaction as the record: one event naming the calibrated run, the chain intact
    [event] = audit.events(store, action="fast_update")
    assert event.actor == "system:fast_update" and event.target == f"run:{cal.run_id}"
    assert json.loads(event.detail) == {"code": "fast_update_counts", "affected": rec["affected"],
                                        "high": len(rec["newly_high"])}
    assert audit.verify(store).ok


def test_newly_high_alerts_once_when_the_exact_run_confirms(tables: Tables, tmp_path: Path) -> None:
    """A taxpayer in a significant finding (medium) whose new invoices raise a typology rule (split duplicates) is
    high in the fast update: the supervisor gets one provisional new-high alert; the exact run that follows finds
    it high too and raises no second one; the fast update is marked in the store and no run is added."""
    inv, _, _ = tables
    store = _store(tmp_path, tables, inv)
    users.create_user(store, "sup", "Quick-Frozen-Tiers-2026!", ["supervisor"])
    seller, _ = _made_high(store, inv)
    sup = users.get_user(store, "sup")
    assert sup is not None
    fast_alerts = [a for a in alerts.inbox(store, sup) if a.rule == "new_high" and a.data.get("provisional")]
    assert [a.subject for a in fast_alerts] == [f"taxpayer:{seller}"]
    assert fast_update.run(store, [seller], actor="test") is not None    # again: no second alert
    exact = run_detection(store)
    assert _rows(exact.scores)[seller]["tier"] == "high"
    alerts.evaluate(store)
    about = [a for a in alerts.inbox(store, sup) if a.subject == f"taxpayer:{seller}" and a.rule == "new_high"]
    assert len(about) == 1 and about[0].data.get("provisional")
    assert "confirmed" not in about[0].data


def _made_high(store: EmbeddedStore, inv: pa.Table) -> tuple[str, pa.Table]:
    """After an exact run and its alerts: a medium member of a significant finding gets three split duplicates
    (a typology rule), and a fast update makes it high. (seller, the duplicates)"""
    run = run_detection(store)
    alerts.evaluate(store)
    rows = _rows(run.scores)
    cal = fast_update.load(store)
    assert cal is not None
    old = cal.rows(list(rows))
    num = {c: dict(zip(old.index, old[f"f:{c}"].astype(float), strict=True))
           for c in ("findings_n", "duplicates_flag", "invoices_out")}
    pick = [t for t, r in rows.items() if r["tier"] == "medium" and num["findings_n"][t] >= 1
            and num["duplicates_flag"][t] == 0 and num["invoices_out"][t] >= 1]
    assert pick, "the generated data holds a medium taxpayer in a significant finding"
    seller = pick[0]
    mine = inv.filter(pc.equal(inv.column("seller_tax_id"), seller)).slice(0, 1)
    dup = pa.concat_tables([mine] * 3)
    dup = dup.set_column(0, "key", pa.array([f"FAST-DUP-{i}" for i in range(3)]))
    dup = dup.set_column(dup.schema.get_field_index("number"), "number", pa.array([f"9900{i}" for i in range(3)]))
    dup = dup.set_column(dup.schema.get_field_index("code"), "code", pa.array([""] * 3))
    with store.writer() as w:
        w.invoices(dup)
    up = fast_update.run(store, fast_update.batch_taxpayers(dup), actor="test")
    assert up is not None and up.tiers()[seller] == "high" and seller in up.newly_high
    assert len(store.runs()) == 1                                # provisional: a record, not a run
    return seller, dup


def test_unconfirmed_provisional_alert_is_followed_up(tables: Tables, tmp_path: Path) -> None:
    """Retraction: the duplicates that made a taxpayer high in the fast update are voided before the exact run,
    which does not find it high. The people who got the provisional alert (and only they: not a supervisor who
    joined after it) get one follow-up titled 未确认 with the exact tier, the provisional alert is marked
    unconfirmed, and evaluating again raises nothing more."""
    inv, _, _ = tables
    store = _store(tmp_path, tables, inv)
    users.create_user(store, "sup", "Quick-Frozen-Tiers-2026!", ["supervisor"])
    seller, dup = _made_high(store, inv)
    users.create_user(store, "late", "Quick-Frozen-Tiers-2026!", ["supervisor"])   # after the provisional alert
    sup, late = users.get_user(store, "sup"), users.get_user(store, "late")
    assert sup is not None and late is not None
    [provisional] = [a for a in alerts.inbox(store, sup) if a.subject == f"taxpayer:{seller}"]
    assert provisional.data.get("provisional") and provisional.subject == f"taxpayer:{seller}"
    with store.writer() as w:                                    # the batch corrected: its duplicates voided
        w.invoices(dup.set_column(dup.schema.get_field_index("status"), "status", pa.array(["void"] * 3)))
    exact = run_detection(store)
    assert _rows(exact.scores)[seller]["tier"] != "high"
    raised = alerts.evaluate(store)
    about = [a for a in alerts.inbox(store, sup) if a.subject == f"taxpayer:{seller}"]
    follow = [a for a in about if a.alert_id != provisional.alert_id]
    assert len(follow) == 1 and follow[0].rule == "new_high" and "未确认" in follow[0].title
    assert follow[0].data["unconfirmed"] and follow[0].data["run_id"] == exact.run.run_id
    assert follow[0].data["tier"] == _rows(exact.scores)[seller]["tier"] and follow[0].read_at is None
    assert follow[0].data["retracts"] == {"sup": provisional.alert_id}
    marked = next(a for a in about if a.alert_id == provisional.alert_id)
    assert marked.data["confirmed"] is False and marked.data["unconfirmed_by"] == follow[0].alert_id
    assert (provisional.standing, marked.standing, follow[0].standing) == ("fast", "unconfirmed", "retraction")
    assert not [a for a in alerts.inbox(store, late) if a.subject == f"taxpayer:{seller}"]
    assert [a.user for a in raised.alerts if a.subject == f"taxpayer:{seller}"] == ["sup"]
    assert not [a for a in alerts.evaluate(store).alerts if a.subject == f"taxpayer:{seller}"]   # once


def test_no_calibration_no_fast_update(tables: Tables, tmp_path: Path) -> None:
    """Before any exact run (or when the newest run wrote none) there is nothing to freeze."""
    inv, _, _ = tables
    store = _store(tmp_path, tables, inv.slice(0, 100))
    assert fast_update.run(store, ["x"]) is None
    run_detection(store)
    folder = fast_update.folder_of(store)
    assert folder is not None and fast_update.load_folder(folder, newest="run-other") is None
    assert fast_update.load(store) is not None


def test_a_new_calibration_deletes_what_older_ones_left(tables: Tables, tmp_path: Path) -> None:
    """Writing a calibration deletes the files of older formats (format 1's ``taxpayers.parquet``), earlier runs'
    models and killed writers' temporary files (an hour old), and keeps what it uses and a temporary file another
    writer may still be writing."""
    import os
    import time

    inv, _, _ = tables
    store = _store(tmp_path, tables, inv.slice(0, 300))
    run_detection(store)
    folder = fast_update.folder_of(store)
    assert folder is not None
    for name in ("taxpayers.parquet", "model-run-old.pkl", ".taxpayers-killed.tmp", ".taxpayers-busy.tmp"):
        (folder / name).write_bytes(b"old")
    hour_ago = time.time() - 2 * 3600
    os.utime(folder / ".taxpayers-killed.tmp", (hour_ago, hour_ago))
    with store.writer() as w:
        w.invoices(inv.slice(300, 50))
    run_detection(store)
    cal = fast_update.load(store)
    assert cal is not None and cal.meta["model_file"]
    assert {f.name for f in folder.iterdir()} == {fast_update.TABLE, cal.meta["model_file"], ".taxpayers-busy.tmp"}


def test_wide_family_null_copies_are_cached_and_read_back(tmp_path: Path) -> None:
    """Review item: the second loop family's null copies go through the null cache like the main family's (their
    files are keyed by the wider gate; ``beyond`` only filters the loops read back). With the cache the loops'
    p-, q-values and scores equal those without, and a second run reads every copy back instead of searching."""
    from algorithms.cycles import temporal_cycles
    from tests.algorithms.loop_market import market
    from workbench.detect import score_cycles

    inv, _ = market(companies=600, invoices=4_000, loops=6, seed=11, ring_items=False, drift=(0.35, 0.35),
                    fees_only=True, sizes=(6, 6))
    inv = inv.drop(columns=["item_code"])
    wide = temporal_cycles(inv, window_days=90, max_len=8, gate_ratio=None, budget=None)
    kw: dict[str, Any] = {"fdr": 0.005, "seed": 0, "null_copies": 2, "window_days": 90, "max_len": 8,
                          "gate_ratio": None, "beyond": 1.0}

    def seen(fam: list[Any]) -> list[tuple[Any, ...]]:
        return [(sc.cycle.members, sc.p_value, sc.q_value, sc.score, sc.significant, sc.wide) for sc in fam]

    plain = seen(score_cycles(wide.cycles, inv, None, None, **kw))
    cache = tmp_path / "nulls"
    assert seen(score_cycles(wide.cycles, inv, None, None, cache=cache, **kw)) == plain
    files = {f: f.stat().st_mtime_ns for f in cache.glob("null-*.parquet")}
    assert len(files) >= 2
    assert seen(score_cycles(wide.cycles, inv, None, None, cache=cache, **kw)) == plain
    assert {f: f.stat().st_mtime_ns for f in cache.glob("null-*.parquet")} == files      # read back, not rewritten
    assert any(sc[4] for sc in plain)


def test_arrival_paths_answer_with_a_fast_update_first(generated: Path, tables: Tables, tmp_path: Path) -> None:
    """A watched folder's pass and the API's detection on arrival run a fast update before the exact run."""
    import pyarrow.parquet as pq

    from workbench.api.jobs import Jobs
    from workbench.watch import run_pass

    inv, _, _ = tables
    t = inv.column("issued_at").to_numpy()
    late = t >= np.sort(t)[-100]
    later = (t >= np.sort(t)[-200]) & ~late
    store = _store(tmp_path, tables, inv.filter(pa.array(~late & ~later)))
    run_detection(store)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # the generator's file layout (rows in the same order as the tables'), as a user drops it into the folder
    pq.write_table(pq.read_table(generated / "invoices.parquet").filter(pa.array(later)), inbox / "later.parquet")
    store.close()
    done = run_pass(lambda: EmbeddedStore(tmp_path / "ws"), inbox, actor="watcher", settle=0, deliver=False)
    store = EmbeddedStore(tmp_path / "ws")
    assert done.loaded == int(later.sum()) and done.fast_id and done.run_id and "fast_update" in done.seconds
    rec = store.record(fast_update.KIND, done.fast_id)
    assert rec is not None and rec["affected"] >= 1
    with store.writer() as w:
        w.invoices(inv.filter(pa.array(late)))
    sup = users.create_user(store, "sup", "Quick-Frozen-Tiers-2026!", ["supervisor"])
    jobs = Jobs(store)
    jobs.request(sup)
    jobs.wait(600)
    recs = store.records_page(fast_update.KIND, {"based_on": done.run_id})     # the API's, based on the pass's run
    assert len(recs) == 1 and recs[0]["affected"] >= 1
    assert len(store.runs()) == 3
    # fapiao detect --fast: a voided invoice's two parties answered first, then the exact run
    one = inv.slice(0, 1)
    with store.writer() as w:
        w.invoices(one.set_column(one.schema.get_field_index("status"), "status", pa.array(["void"])))
    store.close()
    r = CliRunner().invoke(cli, ["detect", "--fast", "--store", f"embedded:{tmp_path / 'ws'}", "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    doc = json.loads(r.output[r.output.index("\n{") + 1:])             # the JSON after the stage table (stderr)
    assert doc["fast_update"]["affected"] == len(fast_update.batch_taxpayers(one)) and doc["run_id"]
