"""In-memory adjacency (CSR) of the invoice graph for fast ego networks and shortest paths.

Built once per data version from four numeric columns (seller, buyer, time, total) plus the taxpayer and
identifier tables, so an ego network is a few numpy gathers instead of table scans. Memory: about 48 bytes
per invoice (10M → ~0.5 GB) plus the taxpayer table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from graph import schema
from graph.model import Taxpayer

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Layer:
    """One BFS ring around the centre: node numbers and their volume with the previous ring."""

    nodes: I64
    volume: I64


class Adjacency:
    """Directed multigraph of invoices in CSR form, indexed both by seller (out) and by buyer (in)."""

    def __init__(self, taxpayers: pa.Table, identifiers: pa.Table, edges: pa.Table) -> None:
        """``taxpayers`` ordered by tax id (node i = row i); ``edges`` has node numbers s, b and t, total."""
        self.taxpayer_table = taxpayers
        self.tax_ids: list[str] = taxpayers.column("tax_id").to_pylist()
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tax_ids)}
        n = len(self.tax_ids)
        owner = pc.index_in(identifiers.column("tax_id"), value_set=taxpayers.column("tax_id")).to_numpy(
            zero_copy_only=False)
        owner = np.nan_to_num(owner, nan=-1).astype(np.int64)
        valid = owner >= 0
        self.ident_owner: I64 = owner[valid]
        picked = np.flatnonzero(valid)[np.argsort(self.ident_owner, kind="stable")]
        self.ident_owner = self.ident_owner[np.argsort(self.ident_owner, kind="stable")]
        kinds, values = identifiers.column("kind").to_pylist(), identifiers.column("value").to_pylist()
        self.ident_kind: list[str] = [kinds[i] for i in picked.tolist()]
        self.ident_value: list[str] = [values[i] for i in picked.tolist()]
        self.ident_ptr: I64 = np.concatenate(([0], np.cumsum(np.bincount(self.ident_owner, minlength=n)))).astype(
            np.int64)
        self.s: I32 = edges.column("s").to_numpy().astype(np.int32, copy=False)
        self.b: I32 = edges.column("b").to_numpy().astype(np.int32, copy=False)
        self.t: I64 = edges.column("t").to_numpy().astype(np.int64, copy=False)
        self.total: I64 = edges.column("total").to_numpy().astype(np.int64, copy=False)
        self.keys: pa.Array = edges.column("key").combine_chunks() if "key" in edges.column_names else pa.array(
            [], pa.string())
        self.out_order: I64 = np.argsort(self.s, kind="stable").astype(np.int64)
        self.in_order: I64 = np.argsort(self.b, kind="stable").astype(np.int64)
        self.out_ptr: I64 = np.concatenate(([0], np.cumsum(np.bincount(self.s, minlength=n)))).astype(np.int64)
        self.in_ptr: I64 = np.concatenate(([0], np.cumsum(np.bincount(self.b, minlength=n)))).astype(np.int64)

    @property
    def node_count(self) -> int:
        return len(self.tax_ids)

    def taxpayers_at(self, nodes: list[int]) -> list[Taxpayer]:
        """Taxpayer records (with identifiers) of ``nodes``, in the given order."""
        rows = self.taxpayer_table.take(pa.array(nodes, pa.int64())).to_pylist()
        out = []
        for node, r in zip(nodes, rows, strict=True):
            lo, hi = int(self.ident_ptr[node]), int(self.ident_ptr[node + 1])
            idents = tuple(sorted(zip(self.ident_kind[lo:hi], self.ident_value[lo:hi], strict=True)))
            out.append(Taxpayer(tax_id=r["tax_id"], name=r["name"] or "", registered_on=r["registered_on"],
                                industry=r["industry"], region=r["region"], invoice_limit_fen=r["invoice_limit_fen"],
                                status=r["status"], identifiers=idents))
        return out

    def aggregate(self, idx: I64) -> pa.Table:
        """schema.EDGES rows (count, exact total, first, last) for the invoices at positions ``idx``."""
        if idx.size == 0:
            return schema.empty(schema.EDGES)
        n = max(self.node_count, 1)
        code = self.s[idx].astype(np.int64) * n + self.b[idx].astype(np.int64)
        pairs, inverse = np.unique(code, return_inverse=True)
        count = np.bincount(inverse, minlength=pairs.size).astype(np.int64)
        total = np.zeros(pairs.size, dtype=np.int64)
        np.add.at(total, inverse, self.total[idx])
        first = np.full(pairs.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inverse, self.t[idx])
        last = np.full(pairs.size, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, inverse, self.t[idx])
        names = self.tax_ids
        return pa.table({        # pairs are sorted by (seller, buyer) node = tax-id order
            "seller_tax_id": pa.array([names[i] for i in (pairs // n).tolist()], pa.string()),
            "buyer_tax_id": pa.array([names[i] for i in (pairs % n).tolist()], pa.string()),
            "count": pa.array(count), "total_fen": pa.array(total),
            "first_at": pa.array(first).cast(schema.TIMESTAMP), "last_at": pa.array(last).cast(schema.TIMESTAMP),
        }, schema=schema.EDGES)

    @staticmethod
    def _gather(order: I64, ptr: I64, nodes: I64) -> I64:
        """Invoice positions of every CSR entry of ``nodes`` (vectorised concatenation of slices)."""
        starts = ptr[nodes]
        lengths = ptr[nodes + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        picked: I64 = order[offsets + np.arange(total, dtype=np.int64)]
        return picked

    def _qualifying(self, idx: I64, start: int | None, end: int | None, min_total: int) -> I64:
        mask = self.total[idx] >= min_total
        if start is not None:
            mask &= self.t[idx] >= start
        if end is not None:
            mask &= self.t[idx] < end
        return idx[mask]

    def incident(self, nodes: I64, start: int | None, end: int | None, min_total: int) -> tuple[I64, I64]:
        """(invoice positions, neighbour node) for every qualifying invoice touching ``nodes``."""
        out_idx = self._qualifying(self._gather(self.out_order, self.out_ptr, nodes), start, end, min_total)
        in_idx = self._qualifying(self._gather(self.in_order, self.in_ptr, nodes), start, end, min_total)
        idx = np.concatenate((out_idx, in_idx))
        nbr = np.concatenate((self.b[out_idx], self.s[in_idx])).astype(np.int64)
        return idx, nbr

    def keys_of(self, node: int, start: int | None, end: int | None) -> pa.Array:
        """Keys of the invoices issued or received by ``node`` in the window."""
        nodes = np.array([node], dtype=np.int64)
        idx = np.concatenate((self._gather(self.out_order, self.out_ptr, nodes),
                              self._gather(self.in_order, self.in_ptr, nodes)))
        idx = np.unique(self._qualifying(idx, start, end, -(2**62)))
        return self.keys.take(pa.array(idx, pa.int64()))

    def keys_between(self, a: int, b: int, start: int | None, end: int | None) -> pa.Array:
        """Keys of the invoices a→b and b→a in the window."""
        out_a = self._gather(self.out_order, self.out_ptr, np.array([a], dtype=np.int64))
        out_b = self._gather(self.out_order, self.out_ptr, np.array([b], dtype=np.int64))
        idx = np.concatenate((out_a[self.b[out_a] == b], out_b[self.b[out_b] == a]))
        idx = np.unique(self._qualifying(idx, start, end, -(2**62)))
        return self.keys.take(pa.array(idx, pa.int64()))

    def layers(self, center: int, hops: int, start: int | None, end: int | None, min_total: int) -> list[Layer]:
        """BFS rings 1..hops around ``center`` with each node's volume (sum of totals) to the ring before."""
        seen = np.zeros(self.node_count, dtype=np.bool_)
        seen[center] = True
        frontier = np.array([center], dtype=np.int64)
        result: list[Layer] = []
        for _ in range(hops):
            if frontier.size == 0:
                break
            idx, nbr = self.incident(frontier, start, end, min_total)
            fresh = ~seen[nbr]
            nbr, idx = nbr[fresh], idx[fresh]
            if nbr.size == 0:
                break
            nodes, inverse = np.unique(nbr, return_inverse=True)
            volume = np.bincount(inverse, weights=self.total[idx].astype(np.float64), minlength=nodes.size)
            seen[nodes] = True
            result.append(Layer(nodes.astype(np.int64), np.rint(volume).astype(np.int64)))
            frontier = nodes.astype(np.int64)
        return result

    def edges_among(self, kept: I64, start: int | None, end: int | None, min_total: int) -> I64:
        """Positions of the qualifying invoices from a kept node to a kept node."""
        inside = np.zeros(self.node_count, dtype=np.bool_)
        inside[kept] = True
        idx = self._qualifying(self._gather(self.out_order, self.out_ptr, kept), start, end, min_total)
        picked: I64 = idx[inside[self.b[idx]]]
        return picked

    def _pairs(self, nodes: I64) -> tuple[I64, I64]:
        """(node, neighbour) for every invoice touching ``nodes``, either direction, no filters."""
        out_idx = self._gather(self.out_order, self.out_ptr, nodes)
        in_idx = self._gather(self.in_order, self.in_ptr, nodes)
        src = np.concatenate((self.s[out_idx], self.b[in_idx])).astype(np.int64)
        nbr = np.concatenate((self.b[out_idx], self.s[in_idx])).astype(np.int64)
        return src, nbr

    def shortest_paths(self, a: int, b: int, max_hops: int, limit: int) -> list[list[int]]:
        """Up to ``limit`` shortest undirected paths a..b of at most ``max_hops`` edges.

        Layer-by-layer BFS in numpy, remembering for each newly reached node the nodes it was reached from;
        paths are then walked back from ``b`` (parents in tax-id order, so the result is deterministic).
        """
        if a == b:
            return [[a]]
        seen = np.zeros(self.node_count, dtype=np.bool_)
        seen[a] = True
        frontier = np.array([a], dtype=np.int64)
        parents: list[tuple[I64, I64]] = []        # per layer: (child, parent) pairs, child sorted
        reached = False
        for _ in range(max_hops):
            src, nbr = self._pairs(frontier)
            fresh = ~seen[nbr]
            src, nbr = src[fresh], nbr[fresh]
            if nbr.size == 0:
                break
            order = np.lexsort((src, nbr))
            src, nbr = src[order], nbr[order]
            keep = np.ones(nbr.size, dtype=np.bool_)
            keep[1:] = (nbr[1:] != nbr[:-1]) | (src[1:] != src[:-1])
            parents.append((nbr[keep], src[keep]))
            if bool((nbr == b).any()):
                reached = True
                break
            frontier = np.unique(nbr)
            seen[frontier] = True
        if not reached:
            return []
        paths: list[list[int]] = []
        names = self.tax_ids

        def walk(node: int, depth: int, suffix: list[int]) -> None:
            if len(paths) >= limit:
                return
            if depth < 0:
                paths.append([a, *suffix])
                return
            child, parent = parents[depth]
            lo, hi = np.searchsorted(child, [node, node + 1])
            for p in sorted(parent[lo:hi].tolist(), key=lambda x: names[x]):
                walk(p, depth - 1, [node, *suffix])

        walk(b, len(parents) - 1, [])
        return paths
