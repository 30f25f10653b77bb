"""In-memory adjacency (CSR) of the invoice graph for fast ego networks and shortest paths.

Built once per data version from four numeric columns (seller, buyer, time, total), so an ego network
is a few numpy gathers instead of table scans. Memory: about 48 bytes per invoice (10M → ~0.5 GB).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

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

    def __init__(self, tax_ids: pa.Array, edges: pa.Table) -> None:
        self.tax_ids: list[str] = tax_ids.to_pylist()
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tax_ids)}
        n = len(self.tax_ids)
        self.s: I32 = edges.column("s").to_numpy().astype(np.int32, copy=False)
        self.b: I32 = edges.column("b").to_numpy().astype(np.int32, copy=False)
        self.t: I64 = edges.column("t").to_numpy().astype(np.int64, copy=False)
        self.total: I64 = edges.column("total").to_numpy().astype(np.int64, copy=False)
        self.out_order: I64 = np.argsort(self.s, kind="stable").astype(np.int64)
        self.in_order: I64 = np.argsort(self.b, kind="stable").astype(np.int64)
        self.out_ptr: I64 = np.concatenate(([0], np.cumsum(np.bincount(self.s, minlength=n)))).astype(np.int64)
        self.in_ptr: I64 = np.concatenate(([0], np.cumsum(np.bincount(self.b, minlength=n)))).astype(np.int64)

    @property
    def node_count(self) -> int:
        return len(self.tax_ids)

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

    def edges_among(self, kept: I64, start: int | None, end: int | None, min_total: int) -> tuple[I64, ...]:
        """Qualifying invoices from a kept node to a kept node: (positions, seller, buyer)."""
        inside = np.zeros(self.node_count, dtype=np.bool_)
        inside[kept] = True
        idx = self._qualifying(self._gather(self.out_order, self.out_ptr, kept), start, end, min_total)
        idx = idx[inside[self.b[idx]]]
        return idx, self.s[idx].astype(np.int64), self.b[idx].astype(np.int64)

    def shortest_paths(self, a: int, b: int, max_hops: int, limit: int) -> list[list[int]]:
        """Up to ``limit`` shortest undirected paths a..b of at most ``max_hops`` edges (BFS with parents)."""
        if a == b:
            return [[a]]
        dist = {a: 0}
        parents: dict[int, list[int]] = {a: []}
        queue: deque[int] = deque([a])
        found = -1
        while queue:
            node = queue.popleft()
            d = dist[node]
            if found >= 0 and d >= found:
                break
            if d >= max_hops:
                break
            _, nbrs = self.incident(np.array([node], dtype=np.int64), None, None, -(2**62))
            for nb in np.unique(nbrs).tolist():
                if nb not in dist:
                    dist[nb] = d + 1
                    parents[nb] = [node]
                    queue.append(nb)
                    if nb == b:
                        found = d + 1
                elif dist[nb] == d + 1:
                    parents[nb].append(node)
        if b not in dist:
            return []
        paths: list[list[int]] = []

        def walk(node: int, suffix: list[int]) -> None:
            if len(paths) >= limit:
                return
            if node == a:
                paths.append([a, *suffix])
                return
            for p in sorted(parents[node], key=lambda x: self.tax_ids[x]):
                walk(p, [node, *suffix])

        walk(b, [])
        return paths
