"""Every detection parameter, defined once: default, bounds, CLI flag and help line (English and Chinese).

:class:`DetectionParams` feeds ``fapiao detect``'s options, the import page's detection options, the run
fingerprint (:meth:`DetectionParams.as_dict`) and the table in ``docs/detection.md``
(``python -m tools.params_table`` writes it; a test checks it is current).

To add a parameter, add one field with :func:`param` here; nothing else needs a copy of its default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from graph.core.errors import ConfigError


@dataclass(frozen=True)
class Spec:
    """How one parameter is shown and checked."""

    flag: str                 # CLI option, e.g. "--window"
    help: str                 # one English line (CLI help, docs)
    zh: str                   # short Chinese label (import page, docs)
    lo: float | None = None   # inclusive bounds (None = unbounded)
    hi: float | None = None
    off: bool = False         # None is allowed and spelt "off" on the command line
    stage: str = ""           # the stage that uses it (docs)


def param(default: Any, *, flag: str, help: str, zh: str, lo: float | None = None, hi: float | None = None,
          off: bool = False, stage: str = "") -> Any:
    """A dataclass field carrying its :class:`Spec` in the metadata."""
    return field(default=default, metadata={"spec": Spec(flag, help, zh, lo, hi, off, stage)})


@dataclass(frozen=True)
class DetectionParams:
    """The options of one detection run. Same data + same params → same run id and findings."""

    window_days: int = param(90, flag="--window", lo=1, hi=3650, stage="cycles",
                             help="Days within which a loop of invoices must close to count as a temporal cycle.",
                             zh="闭环时间窗口（天）")
    max_cycle_len: int = param(12, flag="--max-len", lo=2, hi=12, stage="cycles",
                               help="Longest loop searched, in taxpayers.",
                               zh="最长环路（家企业）")
    max_drift: float | None = param(None, flag="--max-drift", lo=0.0, hi=100.0, off=True, stage="cycles",
                                    help="Fixed search gate: follow a loop's next invoice only when its total is "
                                         "within this fraction of the loop's first invoice's ('off' = no fixed "
                                         "gate: --cycle-budget decides from the data).",
                                    zh="闭环金额漂移固定门限（比例，off 由数据决定）")
    cycle_budget: float | None = param(10.0, flag="--cycle-budget", lo=0.01, hi=100_000.0, off=True,
                                       stage="cycles",
                                       help="Millions of hops the loop search may follow (and 3,000 distinct loops per "
                                            "million): the widest amount gate that fits, estimated on a sample "
                                            "of start invoices, is used — no gate when the whole search fits "
                                            "('off' = never gate; ignored with --max-drift).",
                                       zh="闭环搜索预算（百万步，off 不设门限）")
    cycle_fdr: float = param(0.05, flag="--cycle-fdr", lo=0.001, hi=0.5, stage="typologies",
                             help="False discovery rate of the loops against loops in shuffled copies of the data: "
                                  "significant loops become rings and flag their members.",
                             zh="循环开票错误发现率（FDR）")
    cycle_copies: int = param(2, flag="--cycle-copies", lo=1, hi=20, stage="typologies",
                              help="Fewest shuffled copies of the data (buyers rewired and times permuted within "
                                   "months) whose loops are the null model of the loop significance (more, up to "
                                   "20, until the null holds 10 loops per loop tested).",
                              zh="循环零模型副本数")
    tier_medium: float | None = param(None, flag="--tier-medium", lo=0.0, hi=1.0, off=True, stage="risk",
                                      help="Risk score from which a taxpayer is in the medium tier "
                                           "('off' = the FAPIAO_TIER_MEDIUM setting).",
                                      zh="中风险分数线（off 用设置）")
    tier_high: float | None = param(None, flag="--tier-high", lo=0.0, hi=1.0, off=True, stage="risk",
                                    help="Risk score from which a taxpayer is in the high tier "
                                         "('off' = the FAPIAO_TIER_HIGH setting).",
                                    zh="高风险分数线（off 用设置）")
    fdr: float = param(0.05, flag="--fdr", lo=0.001, hi=0.5, stage="risk",
                       help="False discovery rate of the significance tests: a taxpayer reaches high only with a "
                            "finding or timing evidence significant at this rate.",
                       zh="错误发现率（FDR，高风险）")
    fdr_medium: float = param(0.05, flag="--fdr-medium", lo=0.001, hi=0.5, stage="risk",
                              help="Looser false discovery rate for the medium tier's timing evidence.",
                              zh="中风险错误发现率")
    rule_test_fdr: float | None = param(0.05, flag="--rule-test-fdr", lo=0.001, hi=0.5, off=True, stage="risk",
                                        help="False discovery rate of the per-taxpayer tests of the void / red-letter, "
                                             "near-limit and shell rules against the data's own rates: a hit "
                                             "that is not significant earns no points and no flag, a rule whose "
                                             "input is missing stays silent ('off' = every hit counts).",
                                        zh="规则逐户检验错误发现率（off 不检验）")
    dynamics_copies: int = param(4, flag="--dynamics-copies", lo=0, hi=50, stage="risk",
                                 help="Rewired copies of the data each taxpayer's timing motifs are compared "
                                      "with (0 = skip this evidence).",
                                 zh="时序特征零模型副本数")
    pattern_fdr: float | None = param(0.05, flag="--pattern-fdr", lo=0.001, hi=0.5, off=True, stage="patterns",
                                      help="False discovery rate of the temporal pattern detectors (fan-in/out "
                                           "bursts, scatter-gather, gather-scatter, layered chains, pass-through "
                                           "hubs) against time-shuffled copies of the data ('off' = not searched).",
                                      zh="时序模式错误发现率（off 不检测）")
    pattern_copies: int = param(10, flag="--pattern-copies", lo=1, hi=200, stage="patterns",
                                help="Fewest shuffled copies of the data per null model of the pattern detectors "
                                     "(more on small data, up to 100).",
                                zh="时序模式零模型副本数")
    pass_hub_margin: float = param(0.05, flag="--pass-hub-margin", lo=0.0, hi=1.0, stage="typologies",
                                   help="Pass-through hubs without item codes: largest gap between a company's "
                                        "output and input value (share of the larger) for its timing to be "
                                        "tested against the data's own calendar (significant at --fdr).",
                                   zh="过票中转进销金额差上限（比例）")
    pass_hub_days: float = param(45.0, flag="--pass-hub-days", lo=1.0, hi=3650.0, stage="typologies",
                                 help="Pass-through hubs: a significant hub is flagged only when its input and "
                                      "output are at most this many days apart (value-weighted Wasserstein distance).",
                                 zh="过票中转进销时间错配上限（天）")
    seed: int = param(0, flag="--seed", lo=0, stage="all",
                      help="Seed of community detection, null models and the models: same data + options + seed "
                           "= same findings.",
                      zh="随机种子")

    def __post_init__(self) -> None:
        for f, s in specs():
            check_value(f, s, getattr(self, f.name))

    def as_dict(self) -> dict[str, Any]:
        """Field name → value (JSON-ready): the run's parameters and part of its fingerprint."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> DetectionParams:
        """A copy with some fields changed (checked again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown detection parameter(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


def specs() -> list[tuple[dataclasses.Field[Any], Spec]]:
    """Every field of :class:`DetectionParams` with its :class:`Spec`, in declaration order."""
    return [(f, f.metadata["spec"]) for f in dataclasses.fields(DetectionParams)]


def is_int(f: dataclasses.Field[Any]) -> bool:
    """Whether a field holds whole numbers (annotations are strings under ``from __future__``)."""
    return str(f.type).split("|")[0].strip() == "int"


def check_value(f: dataclasses.Field[Any], s: Spec, v: Any) -> None:
    """Raise :class:`ConfigError` unless ``v`` is a valid value of the field."""
    if v is None:
        if not s.off:
            raise ConfigError(f"{s.flag}: a value is required")
        return
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{s.flag} {v!r}: give a number")
    if is_int(f) and not float(v).is_integer():
        raise ConfigError(f"{s.flag} {v!r}: give a whole number")
    if (s.lo is not None and v < s.lo) or (s.hi is not None and v > s.hi):
        raise ConfigError(f"{s.flag} {v!r}: must lie in {_range(s)}")


def parse_value(f: dataclasses.Field[Any], s: Spec, text: str) -> Any:
    """A command-line / form string → the field's value ('off' → None where allowed)."""
    t = text.strip()
    if s.off and t.lower() in {"off", "none", "no", ""}:
        return None
    try:
        return int(t) if is_int(f) else float(t)
    except ValueError:
        kind = "a whole number" if is_int(f) else "a number"
        raise ConfigError(f"{s.flag} {text!r}: give {kind}" + (" or 'off'" if s.off else "")) from None


def markdown_table() -> str:
    """The parameter table of ``docs/detection.md``."""
    rows = ["| option | default | range | stage | meaning | 说明 |", "|---|---|---|---|---|---|"]
    for f, s in specs():
        d = "off" if f.default is None else f"{f.default:g}" if isinstance(f.default, float) else str(f.default)
        rows.append(f"| `{s.flag}` | {d} | {_range(s)} | {s.stage} | {s.help} | {s.zh} |")
    return "\n".join(rows) + "\n"


def _range(s: Spec) -> str:
    lo = "−∞" if s.lo is None else f"{s.lo:g}"
    hi = "∞" if s.hi is None else f"{s.hi:g}"
    return f"{lo} … {hi}" + (" or off" if s.off else "")
