"""What the fraudulent taxpayers a run missed have in common with the fraud it found (a quality diagnostic).

A run *misses* a fraudulent taxpayer when it leaves it in tier low. Before a detector is changed to reach
them, it helps to know what evidence they carry at all: do they trade with other fraudulent taxpayers, on
relations that repeat, within days, with members of the run's significant findings? Each property is
counted for the missed fraudulent taxpayers **and** for the clean taxpayers the run left in low, so the
cost of any rule built on it is visible next to its gain (a property that 300 missed fraudulent and 3,000
clean taxpayers share cannot lift F1).

The answer key (who is fraudulent) is read here, so this is for the quality benchmark only
(``benchmarks/quality.py --misses``); no detector may use it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["PROPERTIES", "miss_breakdown"]

#: property → what it means (the rows of :func:`miss_breakdown`, in this order)
PROPERTIES: dict[str, str] = {
    "any_fraud_partner": "trades (either direction) with another fraudulent taxpayer",
    "repeat_with_fraud": "a relation with another fraudulent taxpayer carries >= 2 invoices (same direction)",
    "close_with_fraud": "two invoices of one relation with another fraudulent taxpayer within `close_days`",
    "finding_partner": "trades with a member of a significant finding",
    "repeat_with_finding": "a relation with a member of a significant finding carries >= 2 invoices",
    "no_fraud_partner": "trades with no other fraudulent taxpayer at all",
}


def miss_breakdown(
    invoices: pd.DataFrame,
    fraud: Mapping[str, int],
    flagged: Collection[str],
    finding_members: Collection[str],
    *,
    typologies: Mapping[str, Sequence[str]] | None = None,
    close_days: float = 4.0,
) -> pd.DataFrame:
    """Per property of :data:`PROPERTIES` (and per planted typology, when ``typologies`` are given): how many
    missed fraudulent taxpayers (fraud = 1, not in ``flagged``) and how many clean taxpayers left unflagged
    have it.

    ``invoices`` needs ``seller_tax_id``, ``buyer_tax_id`` and ``issued_at`` (void / red-letter / non-positive
    invoices are left out when ``status`` / ``total_fen`` are there); ``flagged`` = the taxpayers in medium or
    high; ``finding_members`` = members of the run's significant findings.

    >>> inv = pd.DataFrame({"seller_tax_id": ["A", "A", "C", "D"], "buyer_tax_id": ["B", "B", "B", "E"],
    ...     "issued_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05", "2024-02-01"])})
    >>> t = miss_breakdown(inv, {"A": 1, "B": 1, "C": 0, "D": 0, "E": 0}, flagged={"A"}, finding_members={"A"})
    >>> t.loc["repeat_with_fraud"].tolist(), t.loc["no_fraud_partner"].tolist()
    ([1, 0], [0, 2])
    """
    inv = invoices
    if "status" in inv:
        inv = inv[inv["status"].isin(("normal", "red_offset"))]
    if "total_fen" in inv:
        inv = inv[inv["total_fen"] > 0]
    s = inv["seller_tax_id"].astype(str).to_numpy()
    b = inv["buyer_tax_id"].astype(str).to_numpy()
    t = pd.to_datetime(inv["issued_at"]).to_numpy(dtype="datetime64[s]").astype(np.int64)
    rel = pd.DataFrame({"s": s, "b": b, "t": t}).sort_values(["s", "b", "t"], kind="stable")
    same = (rel["s"].to_numpy()[1:] == rel["s"].to_numpy()[:-1]) & (rel["b"].to_numpy()[1:] == rel["b"].to_numpy()[:-1])
    rel["close"] = np.r_[False, same & (np.diff(rel["t"].to_numpy()) <= close_days * 86400)]
    grp = rel.groupby(["s", "b"], sort=False)
    per = pd.DataFrame({"n": grp.size(), "close": grp["close"].any()}).reset_index()
    # each relation seen from both of its parties
    both = pd.concat([per.rename(columns={"s": "me", "b": "other"}), per.rename(columns={"b": "me", "s": "other"})])
    bad = {k for k, v in fraud.items() if v}
    members = set(finding_members)
    both["fraud_other"] = both["other"].isin(bad)
    both["finding_other"] = both["other"].isin(members)
    g = both.groupby("me")
    prop = pd.DataFrame({
        "any_fraud_partner": g["fraud_other"].any(),
        "repeat_with_fraud": (both["fraud_other"] & (both["n"] >= 2)).groupby(both["me"]).any(),
        "close_with_fraud": (both["fraud_other"] & both["close"].astype(bool)).groupby(both["me"]).any(),
        "finding_partner": g["finding_other"].any(),
        "repeat_with_finding": (both["finding_other"] & (both["n"] >= 2)).groupby(both["me"]).any(),
    })
    prop["no_fraud_partner"] = ~prop["any_fraud_partner"]
    flagged_ = set(flagged)
    missed = [k for k in fraud if fraud[k] and k not in flagged_]
    clean = [k for k in fraud if not fraud[k] and k not in flagged_]
    every = prop.reindex(pd.Index(missed + clean), fill_value=False).astype(bool)
    every.loc[:, "no_fraud_partner"] = ~every["any_fraud_partner"]
    rows = {name: [int(every.loc[missed, name].sum()), int(every.loc[clean, name].sum())] for name in PROPERTIES}
    rows["(all)"] = [len(missed), len(clean)]
    if typologies:
        for ty in sorted({x for k in missed for x in typologies.get(k, ())}):
            rows[f"typology {ty}"] = [sum(ty in typologies.get(k, ()) for k in missed), 0]
    return pd.DataFrame.from_dict(rows, orient="index", columns=["missed_fraud", "clean_low"])
