"""Incremental loop search (algorithms.loop_cache): cached per window, equal to a search of everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from algorithms import loop_cache
from algorithms.cycles import CycleSearch, temporal_cycles
from tests.helpers.detect_data import small_generated, tables_from_generated


@pytest.fixture(scope="module")
def invoices(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    inv, _, _ = tables_from_generated(small_generated(tmp_path_factory.mktemp("gen")))
    # the store's order (time, key): what run_detection reads
    return in_store_order(inv.to_pandas())


def digest(res: CycleSearch) -> list[tuple[Any, ...]]:
    return [(c.members, c.orientation, tuple(h.key for h in c.hops), c.repeats, c.span_days, c.max_drift, c.spread)
            for c in res.cycles]


def in_store_order(inv: pd.DataFrame) -> pd.DataFrame:
    out: pd.DataFrame = inv.sort_values(["issued_at", "key"], kind="stable").reset_index(drop=True)
    return out


KW: dict[str, Any] = {"window_days": 30, "max_len": 6, "gate_ratio": 1.0}
#: the gate chosen from the data (needs every window's index) instead of a gate known in advance
CHOSEN: dict[str, Any] = {"window_days": 30, "max_len": 6, "budget": 1e6}


@pytest.mark.parametrize(("seed", "kw"), [(0, KW), (1, KW), (2, CHOSEN)])
def test_random_out_of_order_batches_give_the_full_search(invoices: pd.DataFrame, tmp_path: Path, seed: int,
                                                          kw: dict[str, Any]) -> None:
    """Invoices arrive in random batches, in random time order (older invoices after newer ones): after every
    batch the cached search equals a search of everything so far without a cache."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(invoices))
    cuts = np.sort(rng.choice(np.arange(1, len(invoices)), size=4, replace=False))
    seen = np.zeros(0, dtype=np.int64)
    for part in np.split(order, cuts):
        seen = np.concatenate([seen, part])
        now = in_store_order(invoices.iloc[seen])
        cached = temporal_cycles(now, cache=tmp_path, **kw)
        full = temporal_cycles(now, **kw)
        assert digest(cached) == digest(full)
        assert cached.instances == full.instances and cached.truncated_starts == full.truncated_starts
    assert len(full.cycles) > 10          # the planted rings and chance loops: a comparison of something


def test_only_the_windows_a_batch_touches_are_searched_again(invoices: pd.DataFrame, tmp_path: Path) -> None:
    tm = invoices["issued_at"]
    late = tm >= tm.max() - pd.Timedelta(days=20)
    early = invoices[~late]
    first = temporal_cycles(early, cache=tmp_path, **KW)
    assert first.stats["along_cache_searched"] == first.stats["along_cache_windows"] > 3   # nothing cached yet
    again = temporal_cycles(early, cache=tmp_path, **KW)
    assert again.stats["along_cache_searched"] == 0 and digest(again) == digest(first)
    both = temporal_cycles(invoices, cache=tmp_path, **KW)
    # the last 20 days lie in at most two windows of 30 days (and their predecessors' second halves)
    assert 1 <= both.stats["along_cache_searched"] <= 3 < both.stats["along_cache_windows"]
    assert both.stats["along_cache_starts_searched"] < len(invoices) / 2
    assert digest(both) == digest(temporal_cycles(invoices, **KW))


def test_an_older_invoice_does_not_move_the_windows(invoices: pd.DataFrame, tmp_path: Path) -> None:
    """The windows start on a calendar grid: an invoice older than all others adds (at most) a window in front,
    the later windows keep their cached loops."""
    temporal_cycles(invoices, cache=tmp_path, **KW)
    old = invoices.iloc[[0]].assign(key="OLD-1", issued_at=invoices["issued_at"].min() - pd.Timedelta(days=45))
    res = temporal_cycles(in_store_order(pd.concat([old, invoices])), cache=tmp_path, **KW)
    assert res.stats["along_cache_searched"] <= 2


def test_other_settings_do_not_read_the_cache(invoices: pd.DataFrame, tmp_path: Path) -> None:
    temporal_cycles(invoices, cache=tmp_path, **KW)
    other = temporal_cycles(invoices, cache=tmp_path, **(KW | {"gate_ratio": 0.5}))
    assert other.stats["along_cache_searched"] == other.stats["along_cache_windows"]
    assert digest(other) == digest(temporal_cycles(invoices, **(KW | {"gate_ratio": 0.5})))
    assert len(list(tmp_path.glob("loops-*.parquet"))) == 4      # two orientations × two settings


def test_a_changed_invoice_is_searched_again(invoices: pd.DataFrame, tmp_path: Path) -> None:
    """Same keys, another total: the window's fingerprint changes, its loops are searched again."""
    temporal_cycles(invoices, cache=tmp_path, **KW)
    full = temporal_cycles(invoices, **KW)
    ring_hop = full.cycles[0].hops[0].key
    changed = invoices.assign(total_fen=np.where(invoices["key"] == ring_hop, 1, invoices["total_fen"]))
    res = temporal_cycles(changed, cache=tmp_path, **KW)
    assert 1 <= res.stats["along_cache_searched"] <= 2
    assert digest(res) == digest(temporal_cycles(changed, **KW)) != digest(full)


def test_a_damaged_cache_file_is_searched_again(invoices: pd.DataFrame, tmp_path: Path) -> None:
    temporal_cycles(invoices, cache=tmp_path, **KW)
    for f in tmp_path.glob("loops-*.parquet"):
        f.write_bytes(b"not parquet")
    res = temporal_cycles(invoices, cache=tmp_path, **KW)
    assert res.stats["along_cache_searched"] == res.stats["along_cache_windows"]
    assert digest(res) == digest(temporal_cycles(invoices, **KW))


def test_grid_origin() -> None:
    day = 86_400
    assert loop_cache.grid_origin(100 * day + 5, 30 * day) == 90 * day
    assert loop_cache.grid_origin(90 * day, 30 * day) == 90 * day
