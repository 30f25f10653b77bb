"""`POST /invoices` body kinds against a real server on 127.0.0.1: the same rows sent as JSON, as an Arrow IPC
stream, as a Parquet body, as a CSV body and as an uploaded Parquet file answer and store exactly the same
(counts, rejected records and rules, stored invoices); bad columnar bodies are refused whole."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from graph.embedded import EmbeddedStore
from graph.store import Store
from loaders.evidence import Evidence, evidence_dir
from workbench import tokens, users
from workbench.api import create_app, models
from workbench.api.models import invoice_rows, invoice_table, rows_table
from workbench.api.server import Background

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"


def _rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "invoices.jsonl").read_text(encoding="utf-8").splitlines()]


def _batches() -> list[list[dict[str, Any]]]:
    rows = _rows()
    bad = dict(rows[0], invoice_number="24350000000000000998", invoice_code="", seller_tax_id="NOT-A-TAX-ID")
    changed = dict(rows[1], amount="9999.00")         # same key as a stored row, amounts that do not add up
    return [[*rows[:8], bad], [rows[0], *rows[8:], changed]]


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in names})


def _arrow(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    table = _table(rows)
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    pq.write_table(_table(rows), out)
    return out.getvalue()


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def _send(c: httpx.Client, kind: str, rows: list[dict[str, Any]]) -> httpx.Response:
    if kind == "json":
        return c.post("/invoices", json={"invoices": rows})
    if kind == "arrow":
        return c.post("/invoices", content=_arrow(rows), headers={"content-type": ARROW})
    if kind == "parquet":
        return c.post("/invoices", content=_parquet(rows), headers={"content-type": PARQUET})
    if kind == "csv":
        return c.post("/invoices", content=_csv(rows), headers={"content-type": "text/csv; charset=utf-8"})
    return c.post("/invoices", files={"file": ("batch.parquet", _parquet(rows))})


@contextmanager
def _api(path: Path) -> Iterator[tuple[Store, httpx.Client]]:
    with EmbeddedStore(path) as store:
        users.create_user(store, "loader", "loopback-only-9Xq2", ["admin"])
        token, _ = tokens.create_token(store, "loader")
        with Background(create_app(store, rate=1000)) as url, \
                httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            yield store, c


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in answer.items() if k not in ("load_id", "rejections")},
            "rejections": [(r["record"], r["rules"]) for r in answer["rejections"]]}


def _stored(store: Store) -> list[dict[str, Any]]:
    return sorted(store.invoice_stream().to_pylist(), key=lambda r: r["key"])


def test_every_body_kind_answers_and_stores_the_same(tmp_path: Path) -> None:
    results = {}
    for kind in ("json", "arrow", "parquet", "csv", "file"):
        with _api(tmp_path / kind) as (store, c):
            answers = []
            for rows in _batches():
                r = _send(c, kind, rows)
                assert r.status_code == 200, (kind, r.text)
                answers.append(_comparable(r.json()))
            results[kind] = (answers, _stored(store))
    first, second = results["json"][0]
    assert (first["loaded"], first["rejected"], first["rejections"][0][0]) == (8, 1, 9)
    assert (second["skipped_identical"], second["rejected"]) == (1, 1) and "total_mismatch" in second["by_rule"]
    assert len(results["json"][1]) == 12
    for kind, got in results.items():
        assert got == results["json"], kind


def test_an_arrow_body_keeps_its_bytes_as_the_evidence_of_its_invoices(tmp_path: Path) -> None:
    rows = _rows()[:3]
    body = _arrow(rows)
    with _api(tmp_path / "ws") as (store, c):
        r = c.post("/invoices", content=body, headers={"content-type": ARROW})
        assert r.status_code == 200 and r.json()["loaded"] == 3
        found = Evidence(evidence_dir(store)).originals(f"{rows[0]['invoice_code']}-{rows[0]['invoice_number']}")
        assert found and found[0]["source"].endswith(".arrows")
        assert Evidence(evidence_dir(store)).path_of(found[0]["sha256"]).read_bytes() == body


@pytest.mark.parametrize(("content", "status", "words"), [
    (b"not arrow at all", 400, "Arrow"),
    (_arrow([dict(_rows()[0], extra="x")]), 422, "extra"),
    (_arrow([dict(_rows()[0], seller_name="名" * 401)]), 422, "400 characters"),
    (_arrow([{k: v for k, v in _rows()[0].items() if k != "invoice_number"}]), 422, "invoice_number"),
])
def test_bad_arrow_bodies_are_refused_whole(tmp_path: Path, content: bytes, status: int, words: str) -> None:
    with _api(tmp_path / "ws") as (store, c):
        r = c.post("/invoices", content=content, headers={"content-type": ARROW})
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json") and words in r.json()["detail"]
        assert store.counts().invoices == 0


def test_json_numbers_and_text_load_the_same(tmp_path: Path) -> None:
    rows = _rows()[:4]
    numbers = [dict(r, amount=float(r["amount"]), tax_amount=float(r["tax_amount"])) for r in rows]
    stored = []
    for name, batch in (("text", rows), ("numbers", numbers)):
        with _api(tmp_path / name) as (store, c):
            r = c.post("/invoices", json={"invoices": batch})
            assert r.status_code == 200 and r.json()["loaded"] == 4, r.text
            stored.append([{k: v for k, v in s.items() if k != "raw"} for s in _stored(store)])
    assert stored[0] == stored[1]


@pytest.mark.parametrize("rows", [
    _rows()[:5],
    [dict(r, amount=float(r["amount"]), quantity=3, unit_price=None) for r in _rows()[:3]],   # numbers, nulls
    [{k: v for k, v in r.items() if k not in ("invoice_code", "seller_name")} for r in _rows()[:3]],
    [dict(_rows()[0], invoice_code=None), _rows()[1]],                 # a column null in one row only
    [dict(_rows()[0], amount=10**30), dict(_rows()[1], tax_rate=0.13)],   # a huge int: pydantic's path
    [dict(_rows()[0], amount=True)],         # a bool: pydantic's path (the loader's rules refuse it)
    [],
])
def test_the_fast_json_path_gives_what_pydantic_gives(rows: list[dict[str, Any]]) -> None:
    raw = json.dumps({"invoices": rows}).encode()
    fast = invoice_table(raw)
    assert fast.equals(rows_table(invoice_rows(raw)))
    assert fast.num_rows == len(rows)


@pytest.mark.parametrize("row", [
    dict(_rows()[0], invoice_number=20240101),   # a number where text is due
    dict(_rows()[0], seller_name="名" * 401),
    dict(_rows()[0], buyer_tax_id=None),
    dict(_rows()[0], extra="x"),
    dict(_rows()[0], amount=[1]),
])
def test_what_the_schema_refuses_the_fast_path_refuses_too(row: dict[str, Any]) -> None:
    raw = json.dumps({"invoices": [_rows()[1], row]}).encode()
    with pytest.raises(ValidationError) as e:
        invoice_rows(raw)
    with pytest.raises(ValidationError) as fast:
        invoice_table(raw)
    assert fast.value.errors() == e.value.errors() and e.value.errors()[0]["loc"][:2] == ("invoices", 1)


_PLAIN = json.dumps({"invoices": _rows()}, ensure_ascii=False).encode()


@pytest.mark.parametrize("raw, plain", [
    (_PLAIN, True),
    (json.dumps({"invoices": _rows()}, indent=2).encode(), True),            # pretty-printed, \u escapes
    (json.dumps({"invoices": [dict(r, invoice_code=None) for r in _rows()[:2]]}).encode(), True),
    (b'{"invoices": []}', True),
    (json.dumps({"invoices": [dict(_rows()[0], amount=1000.37)]}).encode(), False),   # a number: json.loads path
    (b"\xef\xbb\xbf" + _PLAIN, False),                                          # a byte-order mark
    (_PLAIN + b"\n" + _PLAIN, False),                                          # two objects
    (_PLAIN.replace(b'"invoice_number"', b'"invoice_number": "1", "invoice_number"', 1), False),   # a key twice
    (_PLAIN.replace("泉州".encode(), b"\xff\xfe", 1), False),                 # broken UTF-8
    (b'{"invoices": [null]}', False),
    (b'{"invoices": null}', False),
    (b'{}', False),
    (b'{"invoices": [], "more": 1}', False),
    (b"", False),
])
def test_the_arrow_json_reader_reads_plain_bodies_only(raw: bytes, plain: bool) -> None:
    """Arrow's JSON reader (models._arrow_columns) takes only what the schema plainly accepts, and then gives what
    pydantic gives; everything else is left to json.loads / pydantic, which word the errors."""
    if not plain:
        with pytest.raises(models._NotPlain):
            models._arrow_columns(raw)
        return
    assert models._arrow_columns(raw).equals(rows_table(invoice_rows(raw)))


def test_keys_trim_as_python_does() -> None:
    """group_commit._keys (Arrow) gives schema.invoice_key(code.strip(), number.strip()) for each row."""
    from graph.core import schema
    from workbench.api import group_commit

    assert group_commit.WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    odd = [" ", "\t", "\u3000", "\x1c", "\x85", "\xa0", "\u2028", "", "\u200b", "\ufeff"]
    codes = [None, "", *(a + "4401230130" + b for a in odd for b in odd[::3])]
    numbers = [None, " 1 ", *(a + "03837573" + b for a in odd[::2] for b in odd)][:len(codes)]
    table = pa.table({"invoice_code": pa.array(codes, pa.string()), "invoice_number": pa.array(numbers, pa.string())})
    want = [schema.invoice_key((c or "").strip(), (x or "").strip()) for c, x in zip(codes, numbers, strict=True)]
    assert group_commit._keys(table) == want
    assert group_commit._keys(table.drop_columns(["invoice_code"])) == [(x or "").strip() for x in numbers]
