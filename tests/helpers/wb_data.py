"""The small populated embedded store for the workbench tests (pages and browser), built with Writer calls.

The data is hand-made and tiny: a 3-member temporal cycle ring (深圳甲乙丙), a fan hub, ordinary
trade, two taxpayers sharing a phone number, a void invoice, a taxpayer literally named
``<script>alert(1)</script>``, two detection runs (the newer one adds a ring and a high-risk taxpayer)
and one user per role. Tests derive expected values from :class:`Demo`, never from hard-coded copies.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from graph import open_store
from graph.core import schema
from graph.core.model import Ring, Run
from graph.embedded import EmbeddedStore
from loaders.uscc import check_char
from tests.helpers.paths import SOURCES
from workbench.auth import User
from workbench.users import create_user

TZ = ZoneInfo(schema.TZ)
APP = str(SOURCES / "workbench" / "ui" / "app.py")
PASSWORD = "test-password-1"
ROLE_USERS = {"investigator": ("investigator",), "supervisor": ("supervisor",), "analyst": ("analyst",),
              "admin": ("admin",)}
XSS_NAME = "<script>alert(1)</script>"


def tax_id(n: int) -> str:
    """A valid 18-character unified social credit code numbered ``n``."""
    first17 = f"91440300{n:09d}"
    return first17 + check_char(first17)


@dataclass
class Demo:
    uri: str
    path: Path
    names: dict[str, str]
    ring: Ring
    new_ring: Ring
    invoices: list[dict[str, object]]
    high_new: str                       # high-risk only in the newer run
    shared_phone: tuple[str, str]
    void_invoice: dict[str, object]
    xss_id: str
    users: dict[str, User] = field(default_factory=dict)


def _invoice(n: int, seller: str, buyer: str, names: dict[str, str], at: datetime, amount_fen: int,
             status: str = "normal") -> dict[str, object]:
    tax = amount_fen * 13 // 100
    number = f"{n:08d}"
    code = "044031900111"
    return {"key": schema.invoice_key(code, number), "number": number, "code": code, "issued_at": at,
            "seller_tax_id": seller, "seller_name": names[seller], "buyer_tax_id": buyer, "buyer_name": names[buyer],
            "amount_fen": amount_fen, "tax_fen": tax, "total_fen": amount_fen + tax, "rate": 0.13,
            "kind": "special", "status": status, "red_ref": None, "item_code": "1090511", "item_name": "钢材"}


_TEMPLATE: list[tuple[Path, Demo]] = []    # this process's first embedded build, copied by the next ones


def build(path: Path, *, uri: str | None = None) -> Demo:
    """Write the demo data into the workspace at ``path`` (or into the store at ``uri``, emptied first).

    An embedded workspace is a copy of the first one this test process built (a build hashes four passwords
    and signs a dozen audit events: ~1-4 s; a copy of the folder takes ~10 ms)."""
    if uri is not None:
        return _build(path, uri=uri)
    if not _TEMPLATE:
        # under pytest's own base folder (pytest keeps the last three runs' and removes older ones): the test run
        # leaves through os._exit (tests/conftest.py), so an atexit clean-up never ran and every run left 5 MB in /tmp
        root = Path(tempfile.mkdtemp(prefix="fapiao-demo-template-", dir=os.environ.get("FAPIAO_TEST_TMP")))
        _TEMPLATE.append((root / "workspace", _build(root / "workspace")))
    source, demo = _TEMPLATE[0]
    shutil.copytree(source, path)
    return replace(demo, uri=f"embedded:{path}", path=path, users=dict(demo.users))


def _build(path: Path, *, uri: str | None = None) -> Demo:
    names = {tax_id(i): n for i, n in enumerate(
        ["深圳甲贸易有限公司", "深圳乙贸易有限公司", "深圳丙贸易有限公司", "广州枢纽商贸有限公司", "东莞丁制造有限公司",
         "佛山戊建材有限公司", "珠海己科技有限公司", "惠州庚物流有限公司", XSS_NAME, "中山辛电子有限公司"], start=1)}
    ids = list(names)
    a, b, c, hub = ids[0], ids[1], ids[2], ids[3]
    t0 = datetime(2024, 3, 1, 10, 0, tzinfo=TZ)
    rows: list[dict[str, object]] = []
    n = 1000
    # the ring: a → b → c → a, twice, in time order, similar amounts
    ring_keys: list[str] = []
    for rep in range(2):
        for k, (s, d) in enumerate(((a, b), (b, c), (c, a))):
            n += 1
            inv = _invoice(n, s, d, names, t0 + timedelta(days=rep * 20 + k * 2), 9_800_000 + k * 10_000)
            rows.append(inv)
            ring_keys.append(str(inv["key"]))
    # a fan hub: many sellers → hub → many buyers
    hub_keys = []
    for i, other in enumerate(ids[4:8]):
        for s, d in ((other, hub), (hub, ids[(i + 5) % 10])):
            n += 1
            inv = _invoice(n, s, d, names, t0 + timedelta(days=40 + i), 2_000_000 + i * 100_000)
            rows.append(inv)
            hub_keys.append(str(inv["key"]))
    # ordinary trade, including the xss-named taxpayer, over several months
    for i in range(12):
        n += 1
        rows.append(_invoice(n, ids[8 + i % 2], ids[4 + i % 4], names, t0 + timedelta(days=15 * i), 150_000 + i * 1000))
    n += 1
    void = _invoice(n, ids[9], ids[4], names, t0 + timedelta(days=3), 500_000, status="void")
    rows.append(void)

    taxpayers = pa.Table.from_pylist([
        {"tax_id": t, "name": nm, "registered_on": date(2023, 6, 1) if t in (a, b, c) else date(2015, 1, 1),
         "industry": "批发业" if i < 4 else "制造业", "region": "440300" if i % 2 else "440100",
         "invoice_limit_fen": 10_000_000 * 100, "status": "normal"}
        for i, (t, nm) in enumerate(names.items())], schema=schema.TAXPAYERS)
    shared_phone = (ids[4], ids[5])
    identifiers = pa.Table.from_pylist(
        [{"tax_id": t, "kind": "phone", "value": "0755-88880000"} for t in shared_phone]
        + [{"tax_id": a, "kind": "legal_rep", "value": "张三"}, {"tax_id": b, "kind": "legal_rep", "value": "张三"}],
        schema=schema.IDENTIFIERS)

    def scores(high: set[str]) -> pa.Table:
        return pa.Table.from_pylist([
            {"tax_id": t, "score": 0.9 if t in high else 0.1 + i / 100, "tier": "high" if t in high else "low",
             "reasons": json.dumps(["时序环路成员"] if t in high else ["无明显异常"], ensure_ascii=False),
             "features": json.dumps({"cycle_count": 2 if t in high else 0})}
            for i, t in enumerate(ids)], schema=schema.SCORES)

    old_run = Run("run-1", t0 + timedelta(days=100), {"window_days": 90}, "fp1")
    new_run = Run("run-2", t0 + timedelta(days=101), {"window_days": 90}, "fp1")
    ring_old = Ring("run-1-cycle-1", "run-1", "cycle", (a, b, c), tuple(ring_keys), 0.92, "a→b→c→a")
    ring = Ring("run-2-cycle-1", "run-2", "cycle", (a, b, c), tuple(ring_keys), 0.93,
                "三家公司在 40 天内两次循环开票，金额相近。", {"hops": 6})
    new_ring = Ring("run-2-hub-1", "run-2", "fan_hub", (hub, *ids[4:8]), tuple(hub_keys), 0.7,
                    "广州枢纽商贸有限公司 进销项对倒，增值很少。")
    store = EmbeddedStore(path) if uri is None else open_store(uri)
    if uri is not None:
        store.clear()
    with store.writer() as w:
        w.taxpayers(taxpayers)
        w.invoices(pa.Table.from_pylist(rows, schema=schema.INVOICES))
        w.identifiers(identifiers)
        w.findings(old_run, [ring_old], scores({a, b, c}))
        w.findings(new_run, [ring, new_ring], scores({a, b, c, hub}))
    demo = Demo(uri or f"embedded:{path}", path, names, ring, new_ring, rows, hub, shared_phone, void, ids[8])
    for username, roles in ROLE_USERS.items():
        demo.users[username] = create_user(store, username, PASSWORD, roles, display_name=f"测试{username}")
    store.close()
    return demo
