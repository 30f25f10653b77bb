"""Score a detection run against the generator's ground truth (ring level and taxpayer level).

Pure functions over plain records; reading truth and findings files lives in
``benchmarks/truth_files.py`` (``algorithms/`` does no file I/O).

Ring level: a found ring *matches* a planted ring when their member sets have Jaccard similarity
>= 0.8 (``JACCARD``). Planted typologies are compared with the found ring kinds in ``KIND_FOR``:
cycle ↔ cycle, shared_identity ↔ shared_identity, fan_hub ↔ fan_hub. A planted fan_hub ring is its
hub alone, while a found fan_hub ring lists the hub first and then its counterparties, so fan_hub
matching is *hub-anchored*: the found ring's first member must be the planted hub (Jaccard is not
used). Other typologies (shell, near_limit, item_mismatch, void_red) are single-company patterns and
are scored at taxpayer level only.

Taxpayer level: every truth taxpayer is *fraud* (fraud = 1), *decoy* (fraud = 0 and a decoy_*
typology) or *clean*; a taxpayer missing from the scores counts as tier ``low``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from graph.core.errors import ConfigError

__all__ = [
    "BARS", "JACCARD", "KIND_FOR", "BinaryMetrics", "Check", "FoundRing", "PlantedRing", "QualityReport",
    "RingMetrics", "evaluate", "jaccard", "ring_metrics", "taxpayer_metrics",
]

JACCARD = 0.8
KIND_FOR: dict[str, str] = {"cycle": "cycle", "shared_identity": "shared_identity", "fan_hub": "fan_hub",
                            "fan_in": "fan_in", "fan_out": "fan_out", "scatter_gather": "scatter_gather"}
#: Kinds matched on their first member (the hub / the source) instead of member Jaccard: a found
#: burst lists the hub and the counterparties it saw, which overlap the planted ones only in part.
HUB_ANCHORED = frozenset({"fan_hub", "fan_in", "fan_out", "scatter_gather"})
KIND_FOR_FOUND = {v: k for k, v in KIND_FOR.items()}
ALWAYS_SCORED = ("cycle", "shared_identity", "fan_hub")   # in every report; the others when planted or found
TIERS = ("low", "medium", "high")
CLASSES = ("fraud", "clean", "decoy")

#: (metric name, comparison, bar) — from /work/shared/domain/typologies.md "Quality bars".
BARS: tuple[tuple[str, str, float], ...] = (
    ("cycle ring recall", ">=", 0.95),
    ("cycle ring precision", ">=", 0.90),
    ("fraud taxpayers in medium+high", ">=", 0.90),
    ("clean taxpayers in high", "<=", 0.02),
)


@dataclass(frozen=True)
class PlantedRing:
    ring_id: str
    typology: str
    members: frozenset[str]
    anchor: str            # first member (the hub for fan_hub / fan_in / fan_out, the source for scatter_gather)
    orientation: str = ""  # cycles: "along" (过票, time-ordered with the invoices) or "against" (虚抵进项)


@dataclass(frozen=True)
class FoundRing:
    ring_id: str
    kind: str
    members: frozenset[str]
    anchor: str


@dataclass(frozen=True)
class RingMetrics:
    """Ring-level precision / recall for one planted typology vs its found kind."""

    typology: str
    kind: str
    planted: int
    found: int
    planted_matched: int       # planted rings matched by at least one found ring
    found_correct: int         # found rings that match at least one planted ring

    @property
    def recall(self) -> float:
        return self.planted_matched / self.planted if self.planted else float("nan")

    @property
    def precision(self) -> float:
        return self.found_correct / self.found if self.found else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass(frozen=True)
class Check:
    name: str
    op: str
    bar: float
    value: float

    @property
    def passed(self) -> bool:
        if self.value != self.value:   # NaN: nothing to measure
            return False
        return self.value >= self.bar if self.op == ">=" else self.value <= self.bar


@dataclass
class QualityReport:
    """Everything :func:`evaluate` measured; ``table()`` prints it with the bars."""

    rings: list[RingMetrics]
    confusion: dict[str, dict[str, int]]          # class -> tier -> taxpayers
    typology_recall: dict[str, tuple[int, int]]   # fraud typology -> (in medium+high, total)
    checks: list[Check] = field(default_factory=list)
    extra_rings: dict[str, int] = field(default_factory=dict)   # found rings of kinds without a planted typology

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def share(self, cls: str, tiers: Sequence[str]) -> float:
        row = self.confusion[cls]
        total = sum(row.values())
        return sum(row[t] for t in tiers) / total if total else float("nan")

    def ring(self, typology: str) -> RingMetrics:
        return next(r for r in self.rings if r.typology == typology)

    def table(self) -> str:
        """A plain-text report: ring metrics, tier confusion matrix, per-typology recall, bars."""
        lines = ["Ring level (match: member Jaccard >= 0.8; fan_hub: same hub)",
                 f"{'typology':<17}{'kind':<17}{'planted':>8}{'found':>7}{'recall':>8}{'precision':>10}{'F1':>7}"]
        for r in self.rings:
            lines.append(f"{r.typology:<17}{r.kind:<17}{r.planted:>8}{r.found:>7}{_f(r.recall):>8}"
                         f"{_f(r.precision):>10}{_f(r.f1):>7}")
        for kind, n in sorted(self.extra_rings.items()):
            lines.append(f"{'(not planted)':<17}{kind:<17}{'':>8}{n:>7}")
        lines += ["", "Taxpayer tiers (rows: truth, columns: tier)",
                  f"{'':<8}" + "".join(f"{t:>9}" for t in TIERS) + f"{'total':>9}{'med+high':>10}"]
        for cls in CLASSES:
            row = self.confusion[cls]
            lines.append(f"{cls:<8}" + "".join(f"{row[t]:>9}" for t in TIERS) + f"{sum(row.values()):>9}"
                         f"{_f(self.share(cls, ('medium', 'high'))):>10}")
        lines += ["", "Fraud typology recall (taxpayers in medium+high)"]
        for typ, (hit, total) in sorted(self.typology_recall.items()):
            lines.append(f"  {typ:<17}{hit:>6}/{total:<6}{_f(hit / total if total else float('nan')):>8}")
        lines += ["", "Bars"]
        for c in self.checks:
            lines.append(f"  {c.name:<34}{_f(c.value):>7} {c.op} {c.bar:<5} {'PASS' if c.passed else 'FAIL'}")
        lines.append(f"OVERALL: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)


def _f(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets).

    >>> jaccard(frozenset("abcd"), frozenset("abce"))
    0.6
    """
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _matches(typology: str, planted: PlantedRing, found: FoundRing) -> bool:
    if typology in HUB_ANCHORED:
        return found.anchor == planted.anchor
    return jaccard(planted.members, found.members) >= JACCARD


def ring_metrics(typology: str, planted: Sequence[PlantedRing], found: Sequence[FoundRing]) -> RingMetrics:
    """Match found rings of ``KIND_FOR[typology]`` against planted rings of ``typology``."""
    kind = KIND_FOR[typology]
    mine = [p for p in planted if p.typology == typology]
    theirs = [f for f in found if f.kind == kind]
    by_member: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(mine):
        for m in p.members:
            by_member[m].append(i)
    matched: set[int] = set()
    correct = 0
    for f in theirs:
        cands = {i for m in f.members for i in by_member.get(m, ())}
        hits = [i for i in cands if _matches(typology, mine[i], f)]
        matched.update(hits)
        correct += bool(hits)
    return RingMetrics(typology, kind, len(mine), len(theirs), len(matched), correct)


def evaluate(planted: Sequence[PlantedRing], truth_taxpayers: Mapping[str, tuple[int, tuple[str, ...]]],
             found: Sequence[FoundRing], tiers: Mapping[str, str]) -> QualityReport:
    """Compare findings with the truth.

    Parameters
    ----------
    planted
        Planted rings (fraud and decoy typologies; decoys are not scored at ring level).
    truth_taxpayers
        tax_id -> (fraud 0/1, typologies).
    found
        Found rings (any kinds).
    tiers
        tax_id -> tier for the scored taxpayers (unscored ones count as ``low``).

    Examples
    --------
    >>> p = [PlantedRing("c1", "cycle", frozenset({"A", "B"}), "A")]
    >>> f = [FoundRing("r1", "cycle", frozenset({"A", "B"}), "A")]
    >>> rep = evaluate(p, {"A": (1, ("cycle",)), "B": (1, ("cycle",)), "C": (0, ())}, f,
    ...                {"A": "high", "B": "medium", "C": "low"})
    >>> rep.ring("cycle").recall, rep.share("fraud", ("medium", "high")), rep.passed
    (1.0, 1.0, True)
    """
    present = {p.typology for p in planted} | {KIND_FOR_FOUND.get(f.kind, "") for f in found}
    rings = [ring_metrics(t, planted, found) for t in KIND_FOR if t in ALWAYS_SCORED or t in present]
    planted_kinds = set(KIND_FOR.values())
    extra: dict[str, int] = defaultdict(int)
    for f in found:
        if f.kind not in planted_kinds:
            extra[f.kind] += 1
    confusion = {c: dict.fromkeys(TIERS, 0) for c in CLASSES}
    typ_recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tax_id, (fraud, typologies) in truth_taxpayers.items():
        tier = tiers.get(tax_id, "low")
        if tier not in TIERS:
            raise ConfigError(f"taxpayer {tax_id} has unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
        cls = "fraud" if fraud else "decoy" if any(t.startswith("decoy") for t in typologies) else "clean"
        confusion[cls][tier] += 1
        if fraud:
            for t in typologies:
                typ_recall[t][1] += 1
                typ_recall[t][0] += tier != "low"
    report = QualityReport(rings, confusion, {k: (v[0], v[1]) for k, v in typ_recall.items()},
                           extra_rings=dict(extra))
    values = {
        "cycle ring recall": report.ring("cycle").recall,
        "cycle ring precision": report.ring("cycle").precision,
        "fraud taxpayers in medium+high": report.share("fraud", ("medium", "high")),
        "clean taxpayers in high": report.share("clean", ("high",)),
    }
    report.checks = [Check(name, op, bar, values[name]) for name, op, bar in BARS]
    return report


@dataclass(frozen=True)
class BinaryMetrics:
    """Taxpayer-level confusion counts of one flagged set against the fraud labels."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0

    @property
    def clean_share(self) -> float:
        """Share of the non-fraud taxpayers that are flagged."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else float("nan")


def taxpayer_metrics(fraud: Mapping[str, int], flagged: Collection[str]) -> BinaryMetrics:
    """Confusion counts of ``flagged`` over the taxpayers in ``fraud`` (tax_id -> 0/1); others are ignored.

    >>> m = taxpayer_metrics({"A": 1, "B": 1, "C": 0, "D": 0}, {"A", "C", "X"})
    >>> (m.tp, m.fp, m.fn, m.tn), m.precision, m.recall, m.clean_share
    ((1, 1, 1, 1), 0.5, 0.5, 0.5)
    """
    flagged = set(flagged)
    tp = fp = fn = tn = 0
    for tax_id, label in fraud.items():
        hit = tax_id in flagged
        if label:
            tp += hit
            fn += not hit
        else:
            fp += hit
            tn += not hit
    return BinaryMetrics(tp, fp, fn, tn)
