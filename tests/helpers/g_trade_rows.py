"""Invoice rows for the Neo4j trade tests (TRADES aggregates, read procedures): one helper, a tag per test module so
their taxpayers and keys never collide on the shared server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

T0 = datetime(2024, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))


def tid(n: int, tag: str) -> str:
    """A valid-looking unified social credit code for taxpayer ``n`` of the module tagged ``tag`` (one letter)."""
    return f"91440300MA5{tag}{n:05d}Q"


def invoice(n: int, seller: int, buyer: int, day: float, total: int, tag: str) -> dict[str, Any]:
    """schema.INVOICES row ``n``: ``seller`` → ``buyer`` ``day`` days after T0, ``total`` fen (negative = red)."""
    amount = round(total / 1.13)
    return {"key": f"{tag}{n:019d}", "number": f"{tag}{n:019d}", "code": "", "issued_at": T0 + timedelta(days=day),
            "seller_tax_id": tid(seller, tag), "seller_name": f"公司{tag}{seller}", "buyer_tax_id": tid(buyer, tag),
            "buyer_name": f"公司{tag}{buyer}", "amount_fen": amount, "tax_fen": total - amount, "total_fen": total,
            "rate": 0.13, "kind": "digital_special", "status": "normal" if total >= 0 else "red",
            "red_ref": None, "item_code": None, "item_name": None}
