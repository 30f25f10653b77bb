"""Generator profiles: which columns the files carry and which patterns are planted how.

* ``default`` — every interchange column, identifiers, item codes, paper and 数电 invoices, void and
  red-letter invoices; the typologies of :mod:`loaders.synth.patterns` (cycles in both orientations)
  plus a few value-flow patterns (:mod:`loaders.synth.flows`).
* ``sparse`` — what much real or public invoice data looks like: only the required columns
  (invoices: number, date, parties, amounts, rate; taxpayers: tax id and name, registration date,
  industry and region each one constant), 数电 invoices only, no void or red-letter ones, no item
  codes or identifiers. Planted: loops in both orientations with hop-to-hop drift up to 40 %,
  fan-in / fan-out bursts, scatter-gather, pass-through hubs and the decoys that need no identifiers,
  all among companies that keep ordinary trade drawn like every other company's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from loaders.mapping import INVOICE_REQUIRED
from loaders.synth import flows, patterns
from loaders.synth.planter import Planter

Plant = Callable[[Planter, int], None]

#: Largest hop-to-hop amount drift of the sparse profile's loops (issue 13: fees skimmed at each step).
SPARSE_DRIFT = 0.4


@dataclass(frozen=True)
class Profile:
    name: str
    planters: dict[str, Plant]
    counts: Callable[[int], dict[str, int]]       # taxpayers -> rings planted per typology by default
    invoice_columns: tuple[str, ...] | None       # None = all
    taxpayer_columns: tuple[str, ...] | None
    constant_taxpayers: bool                      # registration date, industry, region one value each
    digital_only: bool
    red_and_void: bool


def _flow_planters(max_drift: float) -> dict[str, Plant]:
    return {
        "fan_in": lambda p, i: flows.plant_fan(p, i, kind="fan_in"),
        "fan_out": lambda p, i: flows.plant_fan(p, i, kind="fan_out"),
        "scatter_gather": lambda p, i: flows.plant_scatter_gather(p, i, max_drift=max_drift),
    }


def _default_counts(t: int) -> dict[str, int]:
    return patterns.default_counts(t) | dict.fromkeys(flows.FLOW_TYPOLOGIES, max(1, t // 4000))


def _sparse_counts(t: int) -> dict[str, int]:
    counts = dict.fromkeys(_SPARSE_PLANTERS, 0)
    counts |= {"cycle": max(4, t // 400), "fan_hub": max(1, t // 3000), "decoy_loop": max(2, t // 1000),
               "decoy_wholesaler": max(1, t // 3000), "decoy_seasonal": max(1, t // 3000)}
    return counts | dict.fromkeys(flows.FLOW_TYPOLOGIES, max(2, t // 2000))


_SPARSE_PLANTERS: dict[str, Plant] = dict(patterns.PLANTERS) | _flow_planters(SPARSE_DRIFT) | {
    "cycle": lambda p, i: flows.plant_flow_cycle(p, orientation=patterns.ORIENTATIONS[i % 2], max_drift=SPARSE_DRIFT),
}

PROFILES: dict[str, Profile] = {
    "default": Profile("default", dict(patterns.PLANTERS) | _flow_planters(0.1), _default_counts,
                       None, None, False, False, True),
    "sparse": Profile("sparse", _SPARSE_PLANTERS, _sparse_counts, INVOICE_REQUIRED,
                      ("tax_id", "name", "registered_on", "industry", "region"), True, True, False),
}
