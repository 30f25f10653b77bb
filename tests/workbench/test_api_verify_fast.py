"""查验 without a database statement: the in-memory index (workbench.api.verify_index) answers as the store does and
only while nothing was written since it was built; the ASGI fast path (workbench.api.fast) answers plain requests
with the route's very bytes, audited, and leaves everything else to the route."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from graph import open_store
from graph.embedded import EmbeddedStore
from loaders.load import load_files
from tests.helpers.api_env import Api, running_api
from tests.helpers.wb_data import build
from workbench import audit, tokens
from workbench.api.fast import question
from workbench.api.verify_index import MISS, VerifyIndex, find

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_the_index_answers_as_the_store_does(tmp_path: Path) -> None:
    demo = build(tmp_path / "ws")
    with open_store(demo.uri) as store:
        index = VerifyIndex(store, background=False)
        assert index.invoice(str(demo.invoices[0]["key"])) is MISS   # not built yet: the store answers
        index.build()
        keys = store.invoice_stream().column("key").to_pylist()
        assert len(keys) > 10
        for key in keys:
            assert index.invoice(key) == store.invoice(key)
        assert index.invoice("0000000000-99999999") is None and index.invoice("") is None
        inv = store.invoice(keys[0])
        assert inv is not None
        by_code = find(index.invoice, inv.number, inv.code or None)
        assert by_code == find(store.invoice, inv.number, inv.code or None) == inv
        assert find(index.invoice, "99999999", inv.code or None) is None


def test_the_index_is_not_used_after_a_write_until_rebuilt(tmp_path: Path) -> None:
    demo = build(tmp_path / "ws")
    new_key = "3502241130-00000001"      # in the fixture file, not in the demo workspace
    with open_store(demo.uri) as store:
        assert isinstance(store, EmbeddedStore)
        index = VerifyIndex(store, background=False)
        index.build()
        assert index.invoice(new_key) is None and index.builds == 1
        with open_store(demo.uri) as other:      # another store object of this process writes
            load_files(other, FIXTURES / "invoices.jsonl", report_dir=tmp_path / "report")
        assert store.invoice(new_key) is not None
        assert index.invoice(new_key) is MISS                 # stale: never a stale "not found"
        index.build()
        assert index.invoice(new_key) == store.invoice(new_key)
        store._db._release()                                   # closed (another process could write meanwhile)
        assert index.invoice(new_key) is MISS
        index.background, index.next_build = True, 0.0       # a rebuild would start at once if asked for
        store.counts()                                         # open again: a new opening, the same data
        assert index.current(check_version=False) is None      # the event loop does not read the version ...
        assert index.invoice(new_key) == store.invoice(new_key) and index.builds == 2   # ... the slow path: kept
        assert index.current(check_version=False) is not None and index.thread is None    # and nothing rebuilt


def test_plain_bodies_only() -> None:
    ok = {"number": "00000001", "code": "3502241130", "issue_date": "2024-03-01", "amount": "1000.37"}
    q = question(json.dumps(ok).encode())
    assert q is not None and q.amount_fen() == 100037 and q.issue_date.isoformat() == "2024-03-01"
    for bad in ({**ok, "amount": 1000.37}, {**ok, "extra": 1}, {**ok, "number": "０0000001"},
                {**ok, "number": "00000001\n"}, {**ok, "issue_date": "2024-02-30"}, {**ok, "issue_date": "20240301"},
                {k: v for k, v in ok.items() if k != "code"}, {**ok, "amount": "1.234"}, [ok]):
        assert question(json.dumps(bad).encode()) is None, bad
    assert question(b"{not json") is None
    assert question(json.dumps({**ok, "code": None, "number": "1" * 20}).encode()) is not None


def _wait_current(api: Api) -> None:
    index = api.app.state.verify_index
    deadline = time.monotonic() + 30
    with api.client("investigator") as c:
        while index.current() is None:
            assert time.monotonic() < deadline, "the 查验 index was not built"
            c.get("/health")
            time.sleep(0.05)


def test_fast_answers_equal_the_route_and_are_audited(tmp_path: Path) -> None:
    with running_api(tmp_path / "ws") as api:
        inv, void = api.demo.invoices[0], api.demo.void_invoice
        questions = []
        for x, amount in ((inv, inv["amount_fen"]), (inv, inv["total_fen"]), (inv, 100), (void, void["amount_fen"])):
            questions.append({"number": x["number"], "code": x["code"], "amount": f"{int(amount) / 100:.2f}",  # type: ignore[call-overload]
                              "issue_date": x["issued_at"].date().isoformat()})  # type: ignore[attr-defined]
        questions.append({**questions[0], "number": "99999998"})
        index = api.app.state.verify_index
        with api.client("investigator") as c:
            c.post("/invoices/verify", json=questions[0])       # the first 查验 starts the index
            _wait_current(api)
            before = index.fast_answers
            fast = [c.post("/invoices/verify", json=q) for q in questions]
            assert index.fast_answers == before + len(questions)
            route = [c.get("/invoices/verify", params=q) for q in questions]       # GET: always the route
            assert [r.status_code for r in fast] == [200] * len(questions)
            assert [r.content for r in fast] == [r.content for r in route]
            assert all(r.headers["content-type"] == "application/json" for r in fast)
            assert [r.json()["result"] for r in fast] == ["consistent", "consistent", "inconsistent", "consistent",
                                                          "not_found"]
            # not plain: the route answers, with its problem body
            bad = c.post("/invoices/verify", json={**questions[0], "amount": "1.234"})
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
            assert c.post("/invoices/verify", content=b"{", headers={"content-type": "application/json"}
                          ).status_code == 400
            assert index.fast_answers == before + len(questions)
        api.flush_audit()
        lines = [line for e in api.store.audit_events() if e.action == "api_calls" and e.actor == "investigator"
                 for line in e.detail.splitlines() if "POST /invoices/verify 200" in line]
        assert len(lines) >= len(questions) + 1
        with httpx.Client(base_url=api.url, timeout=30) as anon:
            assert anon.post("/invoices/verify", json=questions[0]).status_code == 401
            bad_token = {"Authorization": "Bearer fpk_000000000000_" + "x" * 43}
            assert anon.post("/invoices/verify", json=questions[0], headers=bad_token).status_code == 401
        assert audit.verify(api.store).ok


def test_a_revoked_token_and_a_new_invoice_are_seen_at_once(tmp_path: Path) -> None:
    with running_api(tmp_path / "ws") as api:
        inv = api.demo.invoices[0]
        q = {"number": inv["number"], "code": inv["code"], "amount": f"{int(inv['amount_fen']) / 100:.2f}",  # type: ignore[call-overload]
             "issue_date": inv["issued_at"].date().isoformat()}  # type: ignore[attr-defined]
        row = json.loads((FIXTURES / "invoices.jsonl").read_text(encoding="utf-8").splitlines()[0])
        new = {"number": row["invoice_number"], "code": row["invoice_code"], "issue_date": row["issue_date"][:10],
               "amount": row["amount"]}
        with api.client("investigator") as c, api.client("admin") as admin:
            c.post("/invoices/verify", json=q)
            _wait_current(api)
            assert c.post("/invoices/verify", json=new).json()["result"] == "not_found"
            r = admin.post("/invoices", json={"invoices": [row]})
            assert r.status_code == 200 and r.json()["loaded"] == 1, r.text
            assert c.post("/invoices/verify", json=new).json()["result"] == "consistent"     # never the stale index
            token_id = api.token["investigator"].split("_")[1]
            tokens.revoke_token(api.store, token_id)
            time.sleep(1.1)       # AUTH_CACHE_S
            r = c.post("/invoices/verify", json=q)
            assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_no_index_above_its_size_limit(tmp_path: Path) -> None:
    demo = build(tmp_path / "ws")
    with open_store(demo.uri) as store:
        index = VerifyIndex(store, max_rows=3)
        index.build()
        assert index.snapshot is None and index.builds == 0
        key = store.invoice_stream().column("key")[0].as_py()
        assert index.invoice(key) is MISS and index.thread is None    # not retried on every 查验
        assert store.invoice(key) is not None


def test_a_token_in_use_is_checked_again_on_a_thread(tmp_path: Path) -> None:
    from workbench.api import guard as g

    demo = build(tmp_path / "ws")
    with open_store(demo.uri) as store:
        text, tok = tokens.create_token(store, "investigator")
        guard = g.Guard(store, rate=100)
        assert guard.cached(text) is None                       # never checked: the caller reads the store
        first = guard.check(text)
        assert first.user is not None and guard.cached(text) == first
        key = next(iter(guard.cache))

        def aged(seconds: float) -> None:
            guard.cache[key] = (time.monotonic() - seconds, guard.cache[key][1])

        def settled() -> None:
            deadline = time.monotonic() + 10
            while guard.refreshing:
                assert time.monotonic() < deadline
                time.sleep(0.01)

        tokens.revoke_token(store, tok.token_id)
        aged(g.AUTH_REFRESH_S + 0.1)
        assert guard.cached(text) == first                      # still within AUTH_CACHE_S: served, and re-read
        settled()
        again = guard.cached(text)
        assert again is not None and again.user is None and again.reason == "token revoked"
        aged(g.AUTH_CACHE_S + 0.1)
        assert guard.cached(text) is None and not guard.refreshing    # too old: the caller checks it itself


def test_a_rebuild_waits_until_writes_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.api import verify_index

    demo = build(tmp_path / "ws")
    new_key = "3502241130-00000001"
    with open_store(demo.uri) as store:
        index = VerifyIndex(store)
        index.build()
        index.next_build = 0.0
        with open_store(demo.uri) as other:
            load_files(other, FIXTURES / "invoices.jsonl", report_dir=tmp_path / "report")
        monkeypatch.setattr(verify_index, "QUIET_S", 0.3)
        assert index.invoice(new_key) is MISS and index.thread is None      # just written: no rebuild yet
        time.sleep(0.35)
        assert index.invoice(new_key) is MISS and index.thread is not None  # quiet since: rebuilt on a thread
        index.thread.join(timeout=60)
        assert index.builds == 2 and index.invoice(new_key) == store.invoice(new_key)
