"""Long tables a page at a time (issue 19 item 4): the page read model, and the pager on the audit trail
(read a page at a time from the store), the rings list and the risk queue, with page and size in the address."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from graph import open_store
from tests.helpers.wb_app import open_page, texts
from tests.helpers.wb_data import Demo
from workbench import audit
from workbench.ui.views import paging


def _param(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return str(value[0] if isinstance(value, list) else value) if value is not None else None


def test_paging_clamps_and_counts() -> None:
    p = paging(120, 2, 50)
    assert (p.page, p.pages, p.skip, p.first, p.last) == (2, 3, 50, 51, 100)
    assert paging(120, 3, 50).last == 120 and paging(100, 2, 50).pages == 2 and paging(101, 2, 50).pages == 3
    assert paging(120, 99, 50).page == 3 and paging(120, -4, 50).page == 1      # an old or edited link
    empty = paging(0, 1, 50)
    assert (empty.pages, empty.first, empty.last, empty.skip) == (1, 0, 0, 0)


@pytest.fixture()
def long_trail(fresh_env: Demo) -> tuple[Demo, list[int]]:
    """The demo store with 60 more audit events by ``pager-bot``; their seqs, newest first."""
    store = open_store(fresh_env.uri)
    try:
        events = audit.record_many(store, [("pager-bot", "cli", "export", f"file:{n:03d}", "") for n in range(60)])
    finally:
        store.close()
    return fresh_env, [e.seq for e in reversed(events)]


def _seqs(at: AppTest) -> list[int]:
    return [int(s) for s in at.dataframe[0].value["序号"].tolist()]


def test_the_audit_trail_is_read_a_page_at_a_time(long_trail: tuple[Demo, list[int]]) -> None:
    demo, bot = long_trail
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="25", page="2")
    assert _seqs(at) == bot[25:50]
    assert "第 26–50 行，共 60 行" in texts(at)
    at.number_input(key="audit_page").set_value(3).run()
    assert _seqs(at) == bot[50:60] and _param(at, "page") == "3"
    at.selectbox(key="audit_size").set_value(10).run()
    assert _seqs(at) == bot[20:30] and _param(at, "size") == "10"          # page 3 of the smaller pages
    at.text_input(key="audit_target").input("file:05").run()              # a new filter: back to page 1
    assert _seqs(at) == bot[:10]                                           # file:050 .. file:059
    assert _param(at, "page") is None and _param(at, "target") == "file:05" and "共 10 行" in texts(at)
    assert not [w for w in at.number_input if w.key == "audit_page"]      # ten rows: no page controls
    assert not [w for w in at.selectbox if w.key == "audit_size"]
    at.text_input(key="audit_target").input("file:0").run()               # sixty rows again: controls back
    assert at.number_input(key="audit_page").value == 1 and at.selectbox(key="audit_size").value == 10


def test_a_page_past_the_end_shows_the_last_page(long_trail: tuple[Demo, list[int]]) -> None:
    demo, bot = long_trail
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="50", page="9")
    assert _seqs(at) == bot[50:60] and at.number_input(key="audit_page").value == 2
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="7")          # not an offered size: 50
    assert _seqs(at) == bot[:50]
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="100")        # one page: no page number
    assert _seqs(at) == bot and at.selectbox(key="audit_size").value == 100
    assert not [w for w in at.number_input if w.key == "audit_page"]


def test_the_rings_list_and_queue_show_a_page_and_keep_it_in_the_address(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", page="4")
    assert len(at.dataframe[0].value) == 2 and _param(at, "page") is None       # two rings: one page
    at = open_page(app_env, "supervisor", "risk_queue", tier="high,medium,low", size="10")
    assert len(at.dataframe[0].value) == 10 and _param(at, "size") == "10"
    at = open_page(app_env, "supervisor", "risk_queue", tier="high,medium,low", size="25")
    assert "共 10 行" in texts(at) and _param(at, "size") == "25"             # ten rows fit: count, no controls
    assert not [w for w in at.number_input if w.key == "rq_page"]


def test_the_rings_list_and_queue_never_read_a_whole_run(app_env: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lists are read by the store a page at a time (Store.rings_page / scores_page): they open with the
    whole-run reads failing, showing the same rows."""
    from graph.embedded import EmbeddedStore

    store = open_store(app_env.uri)
    try:
        ring_ids = [r.ring_id for r in store.rings()]
        top = store.scores().sort_by([("score", "descending"), ("tax_id", "ascending")]).column("tax_id").to_pylist()
    finally:
        store.close()

    def whole_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("a whole run was read")

    rings = open_page(app_env, "investigator")                      # the overview reads the run's tiers
    queue = open_page(app_env, "supervisor", None, tier="high,medium,low", size="10", page="2")   # 10 scored: page 2 clamps to 1
    for name in ("rings", "scores"):
        monkeypatch.setattr(EmbeddedStore, name, whole_run)
    rings.switch_page("screens/rings.py").run()
    assert not rings.exception, [e.value for e in rings.exception]
    assert rings.dataframe[0].value["编号"].tolist() == ring_ids   # highest score first, as the store orders them
    queue.switch_page("screens/risk_queue.py").run()
    assert not queue.exception, [e.value for e in queue.exception]
    assert queue.dataframe[0].value["税号"].tolist() == top[:10]
    assert f"共 {len(top):,} 户" in texts(queue)


def test_a_taxpayers_invoices_are_read_a_page_at_a_time_and_filtered(app_env: Demo,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The two invoice tables of the profile come from Store.invoices_of_page, filtered by the store (minimum
    total in the address), newest first; the tab titles count every invoice."""
    from collections import Counter

    from graph.embedded import EmbeddedStore

    a = Counter(str(i["seller_tax_id"]) for i in app_env.invoices).most_common(1)[0][0]
    issued = sorted((i for i in app_env.invoices if i["seller_tax_id"] == a),
                    key=lambda i: (str(i["issued_at"]), str(i["key"])), reverse=True)
    totals = sorted({int(str(i["total_fen"])) for i in issued})
    yuan = totals[-1] // 100                       # keeps the largest invoices only
    kept = [i["number"] for i in issued if int(str(i["total_fen"])) >= yuan * 100]
    assert 0 < len(kept) < len(issued)
    reads: list[tuple[str, int]] = []
    real = EmbeddedStore.invoices_of_page

    def spy(self: EmbeddedStore, tax_id: str, side: str, **kw: object) -> object:
        reads.append((side, int(str(kw.get("min_fen", 0)))))
        return real(self, tax_id, side, **kw)   # type: ignore[arg-type]

    monkeypatch.setattr(EmbeddedStore, "invoices_of_page", spy)
    at = open_page(app_env, "investigator", "taxpayer", tax_id=a, inv_min=str(yuan), size="10")
    shown = next(d.value for d in at.dataframe if "发票号码" in d.value.columns)   # the issued tab comes first
    assert shown["发票号码"].tolist() == kept[:10]
    assert ("issued", yuan * 100) in reads and ("received", yuan * 100) in reads
    assert f"筛选后 {len(kept):,} 张" in texts(at)
    assert _param(at, "inv_min") == str(yuan)
