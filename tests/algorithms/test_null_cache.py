"""Loop null copies cached per copy (algorithms.null_cache): the null equals one computed without the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algorithms import null_cache
from algorithms.cycle_scoring import LoopTable, loop_context, loop_statistics, null_statistics
from algorithms.cycles import temporal_cycles
from tests.algorithms.loop_market import market

SEARCH: dict[str, Any] = {"window_days": 30, "max_len": 6, "gate_ratio": 1.0}
#: a slice of ~3 of the market's 12 months per copy, so copies differ in the months they search
NULL: dict[str, Any] = {"copies": 4, "seed": 0, "max_invoices": 1_500}


@pytest.fixture(scope="module")
def invoices() -> pd.DataFrame:
    inv, _ = market(companies=120, invoices=6_000, loops=6, seed=3)
    return inv.sort_values(["issued_at", "key"], kind="stable").reset_index(drop=True)


def null(inv: pd.DataFrame, cache: Path | None = None, **kw: Any) -> pd.DataFrame:
    return null_statistics(inv, loop_context(inv), cache=cache, **(NULL | SEARCH | kw))


def counts(folder: Path, inv: pd.DataFrame) -> tuple[int, int]:
    """(copies read back, copies searched) of a cached null of ``inv``."""
    before = {p: p.stat().st_mtime_ns for p in folder.glob("null-*.parquet")}
    null(inv, folder)
    after = {p: p.stat().st_mtime_ns for p in folder.glob("null-*.parquet")}
    searched = sum(1 for p, t in after.items() if before.get(p) != t)
    return NULL["copies"] - searched, searched


def test_loop_table_round_trip_gives_the_same_statistics(invoices: pd.DataFrame, tmp_path: Path) -> None:
    found = temporal_cycles(invoices, **SEARCH).cycles
    assert len(found) > 20
    store = null_cache.NullCache(tmp_path, seed=0, max_invoices=1, search=SEARCH)
    store.save(0, [[1, 2]], LoopTable.of(found))
    back = store.load(0, [[1, 2]])
    assert back is not None and store.load(0, [[1, 3]]) is None
    ctx = loop_context(invoices)
    pd.testing.assert_frame_equal(loop_statistics(back, ctx), loop_statistics(found, ctx))


@pytest.mark.parametrize("seed", [0, 1])
def test_random_out_of_order_batches_give_the_uncached_null(invoices: pd.DataFrame, tmp_path: Path, seed: int) -> None:
    """Invoices arrive in random batches spread over the whole year (older after newer): after every batch the
    cached null's statistics equal a null computed without the cache."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(invoices))
    seen = np.zeros(0, dtype=np.int64)
    for part in np.split(order, np.sort(rng.choice(np.arange(1, len(invoices)), size=3, replace=False))):
        seen = np.concatenate([seen, part])
        now = invoices.iloc[np.sort(seen)].reset_index(drop=True)
        pd.testing.assert_frame_equal(null(now, tmp_path), null(now))
    assert len(null(invoices)) > 100


def test_a_batch_of_the_latest_invoices_reuses_the_copies_that_do_not_search_the_last_month(
        invoices: pd.DataFrame, tmp_path: Path) -> None:
    t = invoices["issued_at"]
    late = (t >= t.max() - pd.Timedelta(days=10)).to_numpy()
    early = invoices[~late].reset_index(drop=True)
    assert counts(tmp_path, early) == (0, 4)                  # nothing cached yet
    assert counts(tmp_path, early) == (4, 0)                  # nothing changed
    read, searched = counts(tmp_path, invoices)
    assert read >= 1 and searched >= 1 and read + searched == 4
    pd.testing.assert_frame_equal(null(invoices, tmp_path), null(invoices))


def test_a_voided_invoice_and_a_new_item_code_are_searched_again(invoices: pd.DataFrame, tmp_path: Path) -> None:
    """Status and item code do not seed the shuffle but change the loops found: they are part of the month key."""
    null(invoices, tmp_path)
    for changed in (invoices.assign(status=np.where(np.arange(len(invoices)) % 50 == 0, "void", invoices["status"])),
                    invoices.assign(item_code=np.where(np.arange(len(invoices)) % 50 == 0, "NEW", invoices["item_code"]))):
        assert counts(tmp_path, changed) == (0, 4)
        pd.testing.assert_frame_equal(null(changed, tmp_path), null(changed))


def test_other_settings_and_damaged_files_are_searched_afresh(invoices: pd.DataFrame, tmp_path: Path) -> None:
    null(invoices, tmp_path)
    other = SEARCH | {"gate_ratio": 0.5}
    pd.testing.assert_frame_equal(null(invoices, tmp_path, **other), null(invoices, **other))
    assert len(list(tmp_path.glob("null-*.parquet"))) == 8                 # 4 copies × 2 settings
    for f in tmp_path.glob("null-*.parquet"):
        f.write_bytes(b"not parquet")
    assert counts(tmp_path, invoices) == (0, 4)
    pd.testing.assert_frame_equal(null(invoices, tmp_path), null(invoices))
