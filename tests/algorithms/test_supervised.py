"""The supervised model's own inputs (algorithms.supervised) and how score_taxpayers uses them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from algorithms.features import Features
from algorithms.risk import _matrix, score_taxpayers
from algorithms.supervised import LABEL_COLUMNS, Neighbours, amount_profile, label_vector, loop_features


@dataclass(frozen=True)
class _Loop:
    members: tuple[str, ...]


@dataclass(frozen=True)
class _Scored:
    cycle: _Loop
    p_value: float
    q_value: float
    score: float


def test_loop_features_keep_every_searched_loop_with_its_significance() -> None:
    scored = [_Scored(_Loop(("A", "B", "C")), 0.01, 0.09, 0.8), _Scored(_Loop(("A", "D")), 0.3, 0.6, 0.4)]
    t = loop_features(scored, pd.Index(["A", "B", "D", "E"]))
    assert list(t.loc["A"]) == [2.0, 0.01, 0.09, 0.8]
    assert list(t.loc["D"]) == [1.0, 0.3, 0.6, 0.4]
    assert list(t.loc["E"]) == [0.0, 1.0, 1.0, 0.0]         # in no loop
    assert list(loop_features([], pd.Index(["A"])).loc["A"]) == [0.0, 1.0, 1.0, 0.0]


def test_amount_profile_per_side_against_the_data() -> None:
    b = pd.DataFrame({"seller": ["S"] * 3 + ["X"] * 17, "buyer": ["B"] * 20,
                      "fen": [10.0, 100.0, 1000.0] + [1e6] * 17})
    t = amount_profile(b, pd.Index(["S", "B", "Q"]))
    assert t.loc["S", "sup_amt_out_min"] == 1.0 and t.loc["S", "sup_amt_out_median"] == 2.0
    assert t.loc["S", "sup_amt_out_low_n"] == 1.0               # 10 fen is the data's lowest 5 %
    assert t.loc["S", "sup_amt_in_min"] == -1.0                 # S buys nothing
    assert t.loc["B", "sup_amt_in_max"] == 6.0 and t.loc["B", "sup_amt_out_min"] == -1.0
    assert (t.loc["Q"].drop(["sup_amt_out_low_n", "sup_amt_in_low_n"]) == -1.0).all()


def test_label_shares_never_read_a_taxpayers_own_or_a_hidden_label() -> None:
    idx = pd.Index(["A", "B", "C", "D"])
    edges = pd.DataFrame({"seller_tax_id": ["A", "A", "B", "C"], "buyer_tax_id": ["B", "C", "C", "A"],
                          "total_fen": [100, 300, 50, 100]})
    nb = Neighbours(edges, idx)
    y = label_vector({"A": 1, "B": 0, "C": 1}, idx)
    full = nb.label_shares(y)
    # A's counterparties: B (0, 100 fen) and C (1, 400 fen)
    assert full[0].tolist()[:5] == [1.0, 2.0, 0.5, 0.8, 1.0]
    own_hidden = y.copy()
    own_hidden[0] = np.nan
    assert nb.label_shares(own_hidden)[0, :8].tolist() == full[0, :8].tolist()   # own label: not a feature
    # the "likely" loops weigh an unknown company by the labelled share: one number for every row of a fit;
    # a company's own weight never reaches its own row
    w = np.where(np.isnan(own_hidden), 0.5, own_hidden)
    assert nb.confirmed_loops(w)[0].tolist() == nb.confirmed_loops(np.where(idx == "A", 1.0, w))[0].tolist()
    c_hidden = y.copy()
    c_hidden[2] = np.nan
    assert nb.label_shares(c_hidden)[0].tolist()[:5] == [0.0, 1.0, 0.0, 0.0, 0.5]
    assert full[3].tolist() == [0.0] * 16                                 # D trades with nobody


def test_confirmed_loops_count_closed_walks_through_confirmed_companies_only() -> None:
    """A → B → C → A (a 3-loop), A ⇄ D (a 2-loop), A → E → F → G → A (a 4-loop), and H → A → H… with H unlabelled.
    Each loop counts for A only when every other company on it is confirmed; A's own label never counts."""
    idx = pd.Index(list("ABCDEFGH"))
    pairs = ["AB", "BC", "CA", "AD", "DA", "AE", "EF", "FG", "GA", "AH", "HA"]
    edges = pd.DataFrame({"seller_tax_id": [p[0] for p in pairs], "buyer_tax_id": [p[1] for p in pairs],
                          "total_fen": [100] * len(pairs)})
    nb = Neighbours(edges, idx)
    every = np.array([c != "H" for c in "ABCDEFGH"])
    a = nb.confirmed_loops(every)[0]
    assert a.tolist() == [1.0, 1.0, 1.0]                     # D; B-C; E-F-G (not H: unlabelled)
    assert nb.confirmed_loops(every & (idx != "A"))[0].tolist() == a.tolist()   # A's own label: no matter
    assert nb.confirmed_loops(every & (idx != "F"))[0].tolist() == [1.0, 1.0, 0.0]
    assert nb.confirmed_loops(every)[idx.get_loc("B")].tolist() == [0.0, 1.0, 0.0]
    hidden = label_vector({"B": 1, "C": 1, "D": 1, "E": 1, "F": 1, "G": 1}, idx)
    assert nb.label_shares(hidden)[0, 5:8].tolist() == [1.0, 1.0, 1.0]


def test_shared_identifiers_count_confirmed_and_cleared_companies_never_the_own_label() -> None:
    """A shares identifiers with B (confirmed), C (cleared) and D (unlabelled); E shares none."""
    idx = pd.Index(list("ABCDE"))
    edges = pd.DataFrame({"seller_tax_id": ["A"], "buyer_tax_id": ["E"], "total_fen": [100]})
    links = pd.DataFrame({"a": ["A", "A", "A", "A"], "b": ["B", "C", "D", "A"], "weight": [2.0, 1.0, 1.0, 5.0]})
    nb = Neighbours(edges, idx, links)
    y = label_vector({"A": 1, "B": 1, "C": 0}, idx)
    a = nb.label_shares(y)[0, -5:].tolist()
    assert a == [1.0, 1.0, 0.5, 2.0, 1.0]                 # B confirmed, C cleared; the A-A link is no link
    hidden = y.copy()
    hidden[0] = np.nan
    assert nb.label_shares(hidden)[0, -5:].tolist() == a   # A's own label: no matter
    assert nb.label_shares(y)[1, -5:].tolist() == [1.0, 0.0, 1.0, 2.0, 0.0]   # B sees A confirmed
    assert nb.label_shares(y)[4, -5:].tolist() == [0.0] * 5
    assert Neighbours(edges, idx).label_shares(y)[0, -5:].tolist() == [0.0] * 5   # no identifiers: all 0


def _tangled(n: int = 60) -> tuple[pd.Index, pd.DataFrame, pd.DataFrame]:
    """Every company trades both ways with a private partner (a 2-loop, so 4-walks pass through itself) and shares
    an identifier with it; random trade and identifiers besides (3- and 4-loops through labelled companies)."""
    rng = np.random.default_rng(3)
    idx = pd.Index([f"V{i:02d}" for i in range(n)] + [f"P{i:02d}" for i in range(n)])
    pairs = [(f"V{i:02d}", f"P{i:02d}") for i in range(n)] + [(f"P{i:02d}", f"V{i:02d}") for i in range(n)]
    pairs += [(f"V{a:02d}", f"V{b:02d}") for a, b in rng.integers(0, n, size=(4 * n, 2)) if a != b]
    edges = pd.DataFrame(pairs, columns=["seller_tax_id", "buyer_tax_id"]).assign(total_fen=100)
    link = [(f"V{i:02d}", f"P{i:02d}") for i in range(n)]
    link += [(f"V{a:02d}", f"V{b:02d}") for a, b in rng.integers(0, n, size=(n, 2)) if a != b]
    links = pd.DataFrame(link, columns=["a", "b"]).assign(weight=1.0)
    return idx, edges, links


def test_no_label_feature_of_any_company_reads_its_own_label() -> None:
    """Every row of every label feature, on a graph full of loops and shared identifiers: hiding or flipping the
    row's own label changes nothing of it (it would, if a loop through the company itself or a self-link counted).
    The ``likely`` walks weigh unlabelled companies by the labelled share, one number for every row of a fit (inside
    cross-validation: the training folds' share); given that number, the row's own weight changes nothing either."""
    idx, edges, links = _tangled(30)
    nb = Neighbours(edges, idx, links)
    rng = np.random.default_rng(5)
    y = np.where(np.arange(len(idx)) < 30, rng.integers(0, 2, len(idx)).astype(np.float64), np.nan)
    base = nb.label_shares(y)
    assert base.shape[1] == len(LABEL_COLUMNS)
    exact = [i for i, c in enumerate(LABEL_COLUMNS) if not c.startswith("likely_")]
    likely = np.where(np.isnan(y), 0.4, y)
    walks = nb.confirmed_loops(likely)
    assert (base[:, exact] > 0).any(axis=0).all() and (walks > 0).any(axis=0).all()   # every column is exercised
    for v in range(30):
        for own in (np.nan, 1.0 - y[v]):
            other = y.copy()
            other[v] = own
            assert np.array_equal(nb.label_shares(other)[v, exact], base[v, exact]), (v, own)
        for w in (0.0, 0.4, 1.0):
            changed = likely.copy()
            changed[v] = w
            assert np.allclose(nb.confirmed_loops(changed)[v], walks[v]), (v, w)


def test_each_fold_reads_the_training_labels_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the label features are computed from, call by call: in each of the k fits of the cross-validation the
    held-out fold's labels are hidden (every labelled company is hidden in exactly one fit, and only the companies
    labelled in the data are ever visible); the final model sees every label."""
    idx, edges, links = _tangled(60)
    rng = np.random.default_rng(7)
    labels = {t: int(rng.integers(0, 2)) for t in idx if t.startswith("V")}
    v = pd.DataFrame({"noise": rng.normal(size=len(idx))}, index=pd.Index(idx, name="tax_id"))
    seen: list[np.ndarray] = []
    real = Neighbours.label_shares

    def spy(self: Neighbours, y: np.ndarray) -> np.ndarray:
        seen.append(y.copy())
        return real(self, y)

    monkeypatch.setattr(Neighbours, "label_shares", spy)
    with threadpool_limits(1):
        score_taxpayers(Features(v, pd.DataFrame(index=v.index), pd.Series("x", index=v.index)), labels=labels,
                        edges=edges, links=links)
    y = label_vector(labels, idx)
    labelled = ~np.isnan(y)
    *folds, final = seen
    assert len(folds) == 5
    assert np.array_equal(final, y, equal_nan=True)
    hidden = np.zeros(len(idx), dtype=int)
    for f in folds:
        vis = ~np.isnan(f)
        assert not (vis & ~labelled).any() and np.array_equal(f[vis], y[vis])
        hidden += labelled & ~vis
    assert (hidden[labelled] == 1).all()


def _market(n_groups: int = 40) -> tuple[Features, pd.DataFrame, dict[str, int]]:
    """Groups of 5 companies trading among themselves; whole groups are fraudulent. Their own features are noise:
    only who they trade with tells them apart."""
    rng = np.random.default_rng(0)
    ids = [f"T{g:02d}{k}" for g in range(n_groups) for k in range(5)]
    rows = [(f"T{g:02d}{k}", f"T{g:02d}{(k + j) % 5}", int(rng.integers(1, 100)))
            for g in range(n_groups) for k in range(5) for j in (1, 2)]
    edges = pd.DataFrame(rows, columns=["seller_tax_id", "buyer_tax_id", "total_fen"])
    idx = pd.Index(ids, name="tax_id")
    v = pd.DataFrame({"noise": rng.normal(size=len(ids)), "sup_noise": rng.normal(size=len(ids))}, index=idx)
    labels = {t: int(int(t[1:3]) % 4 == 0) for t in ids}
    return Features(v, pd.DataFrame(index=idx), pd.Series("x", index=idx)), edges, labels


def test_confirmed_counterparties_inform_the_model_only_through_the_training_folds() -> None:
    feats, edges, labels = _market()
    with threadpool_limits(1):          # OpenMP threads spin on a busy machine (minutes instead of seconds)
        blind = score_taxpayers(feats, labels=labels)
        told = score_taxpayers(feats, labels=labels, edges=edges)
    assert blind.cv_auc is not None and blind.cv_auc < 0.75           # noise alone
    assert told.cv_auc is not None and told.cv_auc >= 0.95 and (told.cv_f1 or 0) >= 0.9
    assert told.model == "gradient_boosting" and told.labels_used == len(labels)


def test_supervised_only_columns_stay_out_of_the_isolation_forest() -> None:
    feats, _, _ = _market()
    assert _matrix(feats).shape[1] == 1
    assert _matrix(feats, supervised=True).shape[1] == 2
