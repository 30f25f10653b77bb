"""Shared identifiers: companies linked by a legal representative, phone, address or bank account.

Company–identifier bipartite graph → weighted projection (an identifier shared by few companies weighs
more; one shared by very many, such as a registered-agent address, is ignored) → connected components.
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._tables import frame
from algorithms.signals import Signal, make_signal

KIND_ZH = {"legal_rep": "法定代表人", "phone": "电话", "address": "地址", "bank_account": "银行账户"}
#: a person's name or a street address is shared by chance far more often than a phone or bank account
KIND_WEIGHT = {"legal_rep": 0.25, "phone": 1.0, "bank_account": 1.5, "address": 0.25}
STRONG_LINK = 0.3


@dataclass(frozen=True)
class IdentityCluster:
    """Companies connected through shared identifiers."""

    members: tuple[str, ...]
    shared: tuple[tuple[str, str, int], ...]   # (kind, value, companies sharing it)
    weight: float                              # total projected edge weight inside the cluster


def identity_links(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    max_sharing: int = 20,
) -> pd.DataFrame:
    """Weighted company–company links: columns ``a, b, weight, kinds``.

    Each identifier shared by ``n`` companies (2 ≤ n ≤ ``max_sharing``) links every pair of them with
    weight ``KIND_WEIGHT[kind] / log2(n + 1)``: rare identifiers weigh more.
    """
    ids = frame(identifiers, ["tax_id", "kind", "value"]).dropna(subset=["value"])
    ids = ids[ids["value"].astype(str).str.strip() != ""].drop_duplicates(["tax_id", "kind", "value"])
    n = ids.groupby(["kind", "value"])["tax_id"].transform("size")
    ids = ids[(n >= 2) & (n <= max_sharing)].assign(n=n)
    if ids.empty:
        return pd.DataFrame({"a": [], "b": [], "weight": [], "kinds": []})
    pairs = ids.merge(ids, on=["kind", "value", "n"])
    pairs = pairs[pairs["tax_id_x"] < pairs["tax_id_y"]]
    pairs = pairs.assign(weight=pairs["kind"].map(KIND_WEIGHT).fillna(1.0) / np.log2(pairs["n"] + 1))
    return pairs.groupby(["tax_id_x", "tax_id_y"]).agg(
        weight=("weight", "sum"), kinds=("kind", lambda k: ";".join(sorted(set(k))))
    ).reset_index().rename(columns={"tax_id_x": "a", "tax_id_y": "b"})


def identity_clusters(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    max_sharing: int = 20,
    min_weight: float = STRONG_LINK,
    min_size: int = 2,
) -> list[IdentityCluster]:
    """Connected components of the projection keeping links of weight ≥ ``min_weight``."""
    links = identity_links(identifiers, max_sharing=max_sharing)
    links = links[links["weight"] >= min_weight]
    if links.empty:
        return []
    codes, names = pd.factorize(pd.concat([links["a"], links["b"]], ignore_index=True))
    m = len(links)
    g = ig.Graph(n=len(names), edges=list(zip(codes[:m].tolist(), codes[m:].tolist(), strict=True)))
    g.es["weight"] = links["weight"].tolist()
    ids = frame(identifiers, ["tax_id", "kind", "value"])
    out = []
    for comp in g.connected_components():
        if len(comp) < min_size:
            continue
        members = tuple(sorted(str(names[i]) for i in comp))
        sub = ids[ids["tax_id"].isin(members)]
        cnt = sub.groupby(["kind", "value"])["tax_id"].nunique()
        shared = tuple((str(kv[0]), str(kv[1]), int(c)) for kv, c in cnt[cnt >= 2].items())  # type: ignore[index]
        weight = float(sum(g.es.select(_within=comp)["weight"]))
        out.append(IdentityCluster(members, shared, weight))
    out.sort(key=lambda c: (-c.weight, c.members))
    return out


def shared_identity(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    max_sharing: int = 20,
    min_weight: float = STRONG_LINK,
) -> Signal:
    """Per company: total weight of its identifier links and which kinds it shares (flag: weight ≥ ``min_weight``)."""
    links = identity_links(identifiers, max_sharing=max_sharing)
    both = pd.concat([links.rename(columns={"a": "t", "b": "o"}), links.rename(columns={"b": "t", "a": "o"})])
    if both.empty:
        t = pd.DataFrame({"value": [], "flag": [], "evidence": []}, index=pd.Index([], dtype=str))
        return make_signal("shared_identity", t)
    g = both.groupby("t").agg(value=("weight", "sum"), partners=("o", "nunique"),
                              kinds=("kinds", lambda k: sorted(set(";".join(k).split(";")))))
    g["flag"] = g["value"] >= min_weight
    g["evidence"] = [f"与 {p} 家企业共用{'、'.join(KIND_ZH.get(k, k) for k in ks)}"
                     for p, ks in zip(g["partners"], g["kinds"], strict=True)]
    return make_signal("shared_identity", g[["value", "flag", "evidence", "partners"]])
