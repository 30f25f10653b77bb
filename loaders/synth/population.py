"""The taxpayer population: credit codes, Chinese names, industries, regions, limits, identifiers.

Vectorised numpy; identifiers start unique per company and the pattern planters overwrite some of
them to create shared clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loaders.synth import catalog
from loaders.uscc import CHARSET, WEIGHTS

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Strs = npt.NDArray[np.str_]

LIMITS_FEN = np.array([10_000_00, 100_000_00, 1_000_000_00, 10_000_000_00], dtype=np.int64)
STATUSES = ("normal", "abnormal", "deregistered")
_CODEPOINTS = np.array([ord(c) for c in CHARSET], dtype=np.uint32)


@dataclass
class Population:
    """Column arrays of the taxpayers (index = taxpayer id inside the generator)."""

    tax_id: Strs
    name: Strs
    industry: Ints          # index into catalog.INDUSTRIES
    region: Ints            # index into catalog.REGIONS
    reg_day: Ints           # registration day relative to the first day of the span (may be negative)
    weight: Floats          # activity weight in legitimate trade (0 = no legitimate trade)
    limit_fen: Ints         # 最高开票限额 in fen
    small: npt.NDArray[np.bool_]   # small-scale taxpayer (3% / 1% collection rate, ordinary invoices)
    status: Ints            # index into STATUSES
    legal_rep: Strs
    phone: Strs
    address: Strs
    bank_account: Strs

    def __len__(self) -> int:
        return len(self.tax_id)


def _join(chars: npt.NDArray[np.int64]) -> Strs:
    """Rows of charset values -> strings."""
    cps = np.ascontiguousarray(_CODEPOINTS[chars])
    return cps.view(f"<U{chars.shape[1]}").ravel()


def _base31(values: Ints, width: int) -> npt.NDArray[np.int64]:
    out = np.empty((len(values), width), dtype=np.int64)
    v = values.copy()
    for j in range(width - 1, -1, -1):
        out[:, j] = v % 31
        v //= 31
    return out


def credit_codes(region_codes: Strs, new_style: npt.NDArray[np.bool_], seed_offset: int) -> Strs:
    """Valid, unique 18-character unified social credit codes (check character per GB 32100-2015).

    New registrations (since 2015) carry ``MA`` + 7 characters as organisation code; older ones a
    numeric-led 9-character code. Uniqueness comes from an affine bijection of the row index.
    """
    n = len(region_codes)
    idx = np.arange(n, dtype=np.int64)
    vals = np.zeros((n, 17), dtype=np.int64)
    vals[:, 0] = 9
    vals[:, 1] = 1
    reg = np.frombuffer(np.ascontiguousarray(region_codes).astype("<U6").tobytes(), dtype=np.uint32).reshape(n, 6)
    vals[:, 2:8] = reg.astype(np.int64) - ord("0")
    m_new = 31**7
    m_old = 10 * 31**8
    new_org = (idx * 1_073_741_827 + seed_offset * 1_000_003 + 2_718_281_828) % m_new
    old_org = (idx * 2_147_483_629 + seed_offset * 999_983 + 3_141_592_653) % m_old
    org_new = _base31(new_org, 7)
    org_old = _base31(old_org, 9)
    vals[:, 8:17] = org_old
    vals[new_style, 8] = 21   # "M"
    vals[new_style, 9] = 10   # "A"
    vals[new_style, 10:17] = org_new[new_style]
    c = 31 - (vals @ np.array(WEIGHTS, dtype=np.int64)) % 31
    c[c == 31] = 0
    return _join(np.concatenate([vals, c[:, None]], axis=1))


def _pick(options: tuple[str, ...] | str, idx: Ints) -> Strs:
    arr = np.array(list(options))
    return arr[idx]


def assign_credit_codes(pop: Population, switch_day: int, seed: int) -> None:
    """Give every taxpayer its credit code from its (final) region and registration day.

    ``switch_day`` is the day (relative to the span) from which registrations get ``MA`` codes.
    """
    region_codes = np.array([r[1] for r in catalog.REGIONS])[pop.region]
    pop.tax_id = credit_codes(region_codes, pop.reg_day >= switch_day, seed)


def person_names(rng: np.random.Generator, n: int) -> Strs:
    """Chinese personal names: surname + one or two given characters (common names repeat, as in life)."""
    s = _pick(catalog.SURNAMES, rng.zipf(1.6, n).clip(1, len(catalog.SURNAMES)) - 1)
    g1 = _pick(catalog.GIVEN, rng.integers(0, len(catalog.GIVEN), n))
    g2 = _pick(catalog.GIVEN, rng.integers(0, len(catalog.GIVEN), n))
    two = rng.random(n) < 0.7
    return np.where(two, np.char.add(np.char.add(s, g1), g2), np.char.add(s, g1))


def make_population(rng: np.random.Generator, n: int, span_days: int, seed: int) -> Population:
    """Draw ``n`` taxpayers. Registration days are mostly years before the span, some inside it."""
    region_w = np.array([r[2] for r in catalog.REGIONS])
    region = rng.choice(len(catalog.REGIONS), n, p=region_w / region_w.sum()).astype(np.int64)
    ind_w = np.array([ind.share for ind in catalog.INDUSTRIES])
    industry = rng.choice(len(catalog.INDUSTRIES), n, p=ind_w / ind_w.sum()).astype(np.int64)
    # age: 75% registered before the span (log-normal years), 25% inside its first 80%
    before = rng.random(n) < 0.75
    years = np.exp(rng.normal(1.8, 0.7, n))
    reg_day = np.where(before, -(years * 365.25).astype(np.int64) - 1,
                       (rng.random(n) * span_days * 0.8).astype(np.int64))
    # heavy-tailed activity (static preferential attachment: degree ∝ weight)
    weight = rng.pareto(1.3, n) + 0.05
    young = reg_day > -365
    weight[young] *= 0.4
    rank = np.argsort(np.argsort(-weight, kind="stable"), kind="stable") / max(n - 1, 1)
    tier = np.select([rank < 0.05, rank < 0.35, rank < 0.85], [3, 2, 1], 0)
    limit_fen = LIMITS_FEN[tier]
    small = tier == 0
    tax_id = np.zeros(n, dtype="<U18")   # assigned by assign_credit_codes once patterns are planted

    city = np.array([r[0] for r in catalog.REGIONS])[region]
    b1 = _pick(catalog.BRAND_FIRST, rng.integers(0, len(catalog.BRAND_FIRST), n))
    b2 = _pick(catalog.BRAND_SECOND, rng.integers(0, len(catalog.BRAND_SECOND), n))
    words = np.array([w for ind in catalog.INDUSTRIES for w in ind.name_words])
    word_start = np.cumsum([0] + [len(ind.name_words) for ind in catalog.INDUSTRIES])[:-1]
    word_n = np.array([len(ind.name_words) for ind in catalog.INDUSTRIES])
    w = words[word_start[industry] + rng.integers(0, 1 << 30, n) % word_n[industry]]
    suffix = _pick(catalog.SUFFIXES, rng.integers(0, len(catalog.SUFFIXES), n))
    name = np.char.add(np.char.add(np.char.add(np.char.add(city, b1), b2), w), suffix)

    legal_rep = person_names(rng, n)
    idx = np.arange(n, dtype=np.int64)
    prefixes = np.array(["13", "15", "18", "17", "19"])
    phone = np.char.add(prefixes[rng.integers(0, 5, n)], np.char.zfill(
        ((idx * 387_420_489 + seed * 7919 + 271_828_182) % 1_000_000_000).astype("<U9"), 9))
    district = _pick(catalog.DISTRICTS, rng.integers(0, len(catalog.DISTRICTS), n))
    road = _pick(catalog.ROADS, rng.integers(0, len(catalog.ROADS), n))
    number = rng.integers(1, 999, n).astype("<U3")
    address = np.char.add(np.char.add(np.char.add(np.char.add(np.char.add(city, "市"), district), road), number), "号")
    bank = _pick(catalog.BANKS, rng.integers(0, len(catalog.BANKS), n))
    acct = np.char.zfill(((idx * 2_654_435_761 + seed * 97 + 314_159_265_358_979) % 10**15).astype("<U15"), 15)
    bank_account = np.char.add(np.char.add(bank, " 6222"), acct)
    status = np.zeros(n, dtype=np.int64)
    return Population(tax_id, name, industry, region, reg_day, weight, limit_fen, small, status,
                      legal_rep, phone, address, bank_account)
