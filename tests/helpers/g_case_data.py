"""A tiny store for engineer G's tests: a 3-taxpayer cycle with Chinese names, one ring, scores, users."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from graph.core import schema
from graph.core.model import Ring, Run
from graph.store import Store
from workbench.auth import User
from workbench.users import create_user

TZ = ZoneInfo("Asia/Shanghai")
TAX_IDS = ("91310000MA1FL00011", "91440300MA5EQ00022", "91110000MA01A00033")
NAMES = ("上海虹桥贸易有限公司", "=HYPERLINK(\"http://x\")深圳公司", "<script>alert(1)</script>北京咨询")
PASSWORD = "correct horse 1"
ROLE_USERS = {"investigator": "ivan", "supervisor": "sue", "analyst": "ana", "admin": "adam"}


def open_embedded(path: Path) -> Store:
    from graph.embedded import EmbeddedStore

    return EmbeddedStore(path)


def seed(store: Store) -> dict[str, User]:
    """Load the cycle, one ring run with scores, and one user per role; returns role -> User."""
    base = datetime(2025, 3, 1, 9, 0, tzinfo=TZ)
    tps = pa.Table.from_pylist([
        {"tax_id": t, "name": n, "registered_on": None, "industry": "批发", "region": "310000",
         "invoice_limit_fen": 10_000_000, "status": "normal"} for t, n in zip(TAX_IDS, NAMES, strict=True)
    ], schema=schema.TAXPAYERS)
    rows = []
    for i in range(6):
        s, b = TAX_IDS[i % 3], TAX_IDS[(i + 1) % 3]
        amount = 9_000_000 + i * 1000
        tax = amount * 13 // 100
        number = f"{10000001 + i:08d}"
        rows.append({"key": schema.invoice_key("3100251130", number), "number": number, "code": "3100251130",
                     "issued_at": base + timedelta(days=i), "seller_tax_id": s, "seller_name": NAMES[i % 3],
                     "buyer_tax_id": b, "buyer_name": NAMES[(i + 1) % 3], "amount_fen": amount, "tax_fen": tax,
                     "total_fen": amount + tax, "rate": 0.13, "kind": "special", "status": "normal",
                     "red_ref": None, "item_code": None, "item_name": "钢材"})
    inv = pa.Table.from_pylist(rows, schema=schema.INVOICES)
    run = Run("run-1", base + timedelta(days=30), {"window_days": 90}, "fp")
    ring = Ring("R-1", "run-1", "cycle", TAX_IDS, tuple(r["key"] for r in rows[:3]), 0.9,
                "三家公司在3天内相互开票形成闭环 / three companies invoice each other in a loop within 3 days")
    scores = pa.Table.from_pylist([
        {"tax_id": t, "score": 0.9 - 0.3 * i, "tier": ("high", "medium", "low")[i],
         "reasons": json.dumps(["环路成员 / member of a cycle"], ensure_ascii=False), "features": "{}"}
        for i, t in enumerate(TAX_IDS)], schema=schema.SCORES)
    with store.writer() as w:
        w.taxpayers(tps)
        w.invoices(inv)
        w.findings(run, [ring], scores)
    return {role: create_user(store, name, PASSWORD, (role,), display_name=f"{role} 用户")
            for role, name in ROLE_USERS.items()}
