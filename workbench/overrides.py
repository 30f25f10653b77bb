"""Supervisor decisions on the risk queue: tier overrides (with a written reason) and assignments.

Both are append-only store records, so the history is kept: kind ``tier_override``
``{tax_id, tier, previous_tier, reason, by, at}`` and kind ``assignment`` ``{tax_id, investigator, by,
at}``. The newest record per taxpayer is the one in force; :func:`effective_scores` merges them into the
model's scores.
"""

from __future__ import annotations

import secrets
from typing import Any

import pandas as pd

from graph.core.errors import InvalidData, NotFound
from graph.core.notes import Note
from graph.core.vocab import TIERS
from graph.store import Store
from workbench import audit
from workbench.auth import User, require
from workbench.users import get_user

OVERRIDE_KIND = "tier_override"
ASSIGNMENT_KIND = "assignment"


def _rec_id(tax_id: str) -> str:
    return f"{tax_id}:{audit.now():%Y%m%dT%H%M%S}:{secrets.token_hex(4)}"


def latest(store: Store, kind: str) -> dict[str, dict[str, Any]]:
    """tax_id -> newest record of ``kind`` (records come back in insertion order; ``at`` breaks no ties)."""
    out: dict[str, dict[str, Any]] = {}
    for rec in store.records(kind):
        tid = str(rec.get("tax_id", ""))
        if tid not in out or str(rec.get("at", "")) >= str(out[tid].get("at", "")):
            out[tid] = rec
    return out


def _known(store: Store, tax_id: str) -> None:
    if store.taxpayer(tax_id) is None:
        raise NotFound(f"no taxpayer {tax_id!r}")


def _model_tier(store: Store, tax_id: str) -> str | None:
    for row in store.scores().to_pylist():
        if row["tax_id"] == tax_id:
            return str(row["tier"])
    return None


def override_tier(store: Store, user: User, tax_id: str, tier: str, reason: str) -> None:
    """Set a taxpayer's risk tier by hand (supervisors; a written reason is required; audited).

    Parameters
    ----------
    tier : str
        ``low``, ``medium`` or ``high``.
    reason : str
        Why the model's tier is wrong (at least a few words).

    Raises
    ------
    PermissionDenied, InvalidData
    """
    require(user, "override_tier")
    _known(store, tax_id)
    if tier not in TIERS:
        raise InvalidData(f"tier must be one of {', '.join(TIERS)}, not {tier!r}")
    reason = " ".join(reason.split())
    if len(reason) < 4:
        raise InvalidData("an override needs a written reason (at least 4 characters)")
    current = latest(store, OVERRIDE_KIND).get(tax_id)
    previous = str(current["tier"]) if current else _model_tier(store, tax_id)
    rec = {"tax_id": tax_id, "tier": tier, "previous_tier": previous, "reason": reason, "by": user.username,
           "at": audit.now().isoformat()}
    with store.writer() as w:
        w.put_record(OVERRIDE_KIND, _rec_id(tax_id), rec)
    audit.record(store, user, "tier_override", f"taxpayer:{tax_id}",
                 Note("tier_changed", {"before": previous or "", "after": tier, "reason": reason}))


def assign(store: Store, user: User, tax_id: str, investigator: str) -> None:
    """Assign a flagged taxpayer to an investigator (supervisors; audited). The investigator must be an
    enabled account with the investigator or supervisor role."""
    require(user, "assign_case")
    _known(store, tax_id)
    target = get_user(store, investigator)
    if target is None or target.disabled or not {"investigator", "supervisor"}.intersection(target.roles):
        raise InvalidData(f"{investigator!r} is not an enabled investigator or supervisor account")
    rec = {"tax_id": tax_id, "investigator": investigator, "by": user.username, "at": audit.now().isoformat()}
    with store.writer() as w:
        w.put_record(ASSIGNMENT_KIND, _rec_id(tax_id), rec)
    audit.record(store, user, "assign", f"taxpayer:{tax_id}", investigator)


def history(store: Store, tax_id: str) -> list[dict[str, Any]]:
    """Every tier override and assignment of one taxpayer, oldest first (each dict has ``kind``)."""
    rows = [{"kind": OVERRIDE_KIND, **r} for r in store.records(OVERRIDE_KIND) if r.get("tax_id") == tax_id]
    rows += [{"kind": ASSIGNMENT_KIND, **r} for r in store.records(ASSIGNMENT_KIND) if r.get("tax_id") == tax_id]
    return sorted(rows, key=lambda r: str(r.get("at", "")))


def effective_scores(store: Store, run_id: str | None = None) -> pd.DataFrame:
    """The run's scores with supervisors' decisions applied.

    Returns
    -------
    pandas.DataFrame
        The ``graph.core.schema.SCORES`` columns, where ``tier`` is the effective tier, plus ``model_tier``
        (what the model said), ``overridden`` (bool), ``override_reason``, ``override_by``,
        ``override_at`` and ``assignee`` (None where there is none).
    """
    df: pd.DataFrame = store.scores(run_id).to_pandas()
    overrides = latest(store, OVERRIDE_KIND)
    assignments = latest(store, ASSIGNMENT_KIND)
    df["model_tier"] = df["tier"]
    ov = [overrides.get(t) for t in df["tax_id"]]
    df["overridden"] = [o is not None for o in ov]
    df["tier"] = [o["tier"] if o else t for o, t in zip(ov, df["model_tier"], strict=True)]
    df["override_reason"] = [o["reason"] if o else None for o in ov]
    df["override_by"] = [o["by"] if o else None for o in ov]
    df["override_at"] = [o["at"] if o else None for o in ov]
    df["assignee"] = [assignments[t]["investigator"] if t in assignments else None for t in df["tax_id"]]
    return df
