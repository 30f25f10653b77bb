"""Shared identifiers: companies linked by a legal representative, phone, address or bank account.

Company–identifier bipartite graph → weighted projection (an identifier shared by few companies weighs
more; one shared by very many, such as a registered-agent address, is ignored) → connected components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from algorithms._igraph import ig
from algorithms._tables import frame
from algorithms.signals import Signal, make_signal
from graph.core.vocab import IDENTIFIER_KINDS

KIND_ZH = {k: zh for k, (zh, _) in IDENTIFIER_KINDS.items()}
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
    keep = (n >= 2) & (n <= max_sharing)
    ids = ids[keep].assign(n=n[keep])          # (an empty frame would take all of n's rows, as NaN companies)
    if ids.empty:
        return pd.DataFrame({"a": [], "b": [], "weight": [], "kinds": []})
    pairs = ids.merge(ids, on=["kind", "value", "n"])
    pairs = pairs[pairs["tax_id_x"] < pairs["tax_id_y"]]
    pairs = pairs.assign(weight=pairs["kind"].map(KIND_WEIGHT).fillna(1.0) / np.log2(pairs["n"] + 1))
    # the kinds a pair shares as a bit mask (one bit per kind, alphabetical), turned into "a;b" once per mask
    kind_codes, kind_names = pd.factorize(pairs["kind"].astype(str), sort=True)
    bits = pairs[["tax_id_x", "tax_id_y"]].assign(bit=np.left_shift(1, kind_codes.astype(np.int64)))
    bits = bits.drop_duplicates()
    out = pairs.groupby(["tax_id_x", "tax_id_y"]).agg(weight=("weight", "sum"))
    mask = bits.groupby(["tax_id_x", "tax_id_y"])["bit"].sum().reindex(out.index)
    label = {m: ";".join(k for i, k in enumerate(kind_names) if m >> i & 1) for m in np.unique(mask).tolist()}
    out["kinds"] = mask.map(label)
    return out.reset_index().rename(columns={"tax_id_x": "a", "tax_id_y": "b"})


def identity_clusters(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    max_sharing: int = 20,
    min_weight: float = STRONG_LINK,
    min_size: int = 2,
    links: pd.DataFrame | None = None,
    components: Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None = None,
) -> list[IdentityCluster]:
    """Connected components of the projection keeping links of weight ≥ ``min_weight``.

    ``links`` (from :func:`identity_links` with the same ``max_sharing``) saves recomputing them;
    ``components`` (edge ends as node numbers, node count → component number per node, ``0..k-1``) is another
    engine's connected components (the Spark engine's); igraph's by default."""
    if links is None:
        links = identity_links(identifiers, max_sharing=max_sharing)
    links = links[links["weight"] >= min_weight]
    if links.empty:
        return []
    codes, names = pd.factorize(pd.concat([links["a"], links["b"]], ignore_index=True))
    m = len(links)
    if components is None:
        g = ig.Graph(n=len(names), edges=list(zip(codes[:m].tolist(), codes[m:].tolist(), strict=True)))
        memb = np.asarray(g.connected_components().membership, dtype=np.int64)
    else:
        memb = np.asarray(components(codes[:m], codes[m:], len(names)), dtype=np.int64)
    sizes = np.bincount(memb)
    comp_weight = np.bincount(memb[codes[:m]], weights=links["weight"].to_numpy(dtype=float), minlength=len(sizes))
    # identifiers of every clustered company, grouped by cluster once (not one scan per cluster)
    comp_of = pd.Series(memb, index=pd.Index(names.astype(str)))
    ids = frame(identifiers, ["tax_id", "kind", "value"])
    sub = ids[ids["tax_id"].isin(comp_of.index)]
    sub = sub.assign(comp=sub["tax_id"].map(comp_of).to_numpy())
    cnt = sub.groupby(["comp", "kind", "value"])["tax_id"].nunique()
    cnt = cnt[cnt >= 2]
    shared_of: dict[int, list[tuple[str, str, int]]] = {}
    idx = cnt.index
    for c, kind, value, k in zip(idx.get_level_values(0).tolist(), idx.get_level_values(1).tolist(),
                                 idx.get_level_values(2).tolist(), cnt.tolist(), strict=True):
        shared_of.setdefault(int(c), []).append((str(kind), str(value), int(k)))
    members_of: dict[int, list[str]] = {}
    for name, c in zip(names.astype(str).tolist(), memb.tolist(), strict=True):
        members_of.setdefault(c, []).append(name)
    out = [IdentityCluster(tuple(sorted(ms)), tuple(shared_of.get(c, [])), float(comp_weight[c]))
           for c, ms in members_of.items() if sizes[c] >= min_size]
    out.sort(key=lambda c: (-c.weight, c.members))
    return out


def shared_identity(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    max_sharing: int = 20,
    min_weight: float = STRONG_LINK,
    links: pd.DataFrame | None = None,
) -> Signal:
    """Per company: the weight of the identifiers it shares and which kinds (flag: weight ≥ ``min_weight``).

    Each shared identifier counts once, ``KIND_WEIGHT[kind] / log2(n + 1)`` for ``n`` companies sharing it, however
    many partners it brings: a common personal name shared by 15 companies is weaker evidence than one shared by
    two, not stronger. So a legal representative's name or an address alone never flags (a name is not an ID
    number; 王浩 runs many companies), a phone or bank account does, and a name plus an address does.
    ``links`` (from :func:`identity_links` with the same ``max_sharing``) saves recomputing the partner counts."""
    if links is None:
        links = identity_links(identifiers, max_sharing=max_sharing)
    ids = _shared_weights(identifiers, max_sharing)
    if ids.empty or links.empty:
        t = pd.DataFrame({"value": [], "flag": [], "evidence": []}, index=pd.Index([], dtype=str))
        return make_signal("shared_identity", t)
    g = ids.groupby("tax_id").agg(value=("weight", "sum"), kinds=("kind", lambda k: sorted(set(k))))
    both = pd.concat([links["a"], links["b"]], ignore_index=True)
    other = pd.concat([links["b"], links["a"]], ignore_index=True)
    g["partners"] = pd.Series(other.to_numpy(), index=both.to_numpy()).groupby(level=0).nunique()
    g["partners"] = g["partners"].fillna(0).astype(int)
    g["flag"] = g["value"] >= min_weight
    g["evidence"] = [f"与 {p} 家企业共用{'、'.join(KIND_ZH.get(k, k) for k in ks)}"
                     for p, ks in zip(g["partners"], g["kinds"], strict=True)]
    return make_signal("shared_identity", g[["value", "flag", "evidence", "partners"]])


def _shared_weights(identifiers: pa.Table | pd.DataFrame | None, max_sharing: int) -> pd.DataFrame:
    """The identifiers shared by 2..``max_sharing`` companies (each (company, kind, value) once), with the
    weight each brings its company (:func:`shared_identity`)."""
    ids = frame(identifiers, ["tax_id", "kind", "value"]).dropna(subset=["value"])
    ids = ids[ids["value"].astype(str).str.strip() != ""].drop_duplicates(["tax_id", "kind", "value"])
    n = ids.groupby(["kind", "value"])["tax_id"].transform("size")
    ids = ids[(n >= 2) & (n <= max_sharing)]
    if ids.empty:                      # no identifiers (or none shared): the kinds may be text-typed, no weights
        return ids.assign(weight=pd.Series(dtype=np.float64))
    return ids.assign(weight=ids["kind"].map(KIND_WEIGHT).fillna(1.0) / np.log2(n[ids.index] + 1))


def shared_flagged(
    identifiers: pa.Table | pd.DataFrame | None,
    *,
    links: pd.DataFrame,
    max_sharing: int = 20,
    min_weight: float = STRONG_LINK,
) -> frozenset[str]:
    """The companies :func:`shared_identity` flags, without its evidence text (the rule's null copies need only
    these; ``links`` from :func:`identity_links` with the same ``max_sharing``). Equal by construction (the same
    weights, summed the same way) and tested."""
    ids = _shared_weights(identifiers, max_sharing)
    if ids.empty or links.empty:
        return frozenset()
    value = ids.groupby("tax_id")["weight"].sum()
    return frozenset(value.index[(value >= min_weight).to_numpy()].astype(str))
