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
    assert at.number_input(key="audit_page").value == 1 and _param(at, "page") is None
    assert _param(at, "target") == "file:05" and "共 10 行" in texts(at)


def test_a_page_past_the_end_shows_the_last_page(long_trail: tuple[Demo, list[int]]) -> None:
    demo, bot = long_trail
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="50", page="9")
    assert _seqs(at) == bot[50:60] and at.number_input(key="audit_page").value == 2
    at = open_page(demo, "supervisor", "audit", actor="pager-bot", size="7")          # not an offered size: 50
    assert _seqs(at) == bot[:50]


def test_the_rings_list_and_queue_show_a_page_and_keep_it_in_the_address(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", page="4")
    assert len(at.dataframe[0].value) == 2 and _param(at, "page") is None       # two rings: one page
    at = open_page(app_env, "supervisor", "risk_queue", tier="high,medium,low", size="10")
    assert len(at.dataframe[0].value) == 10 and _param(at, "size") == "10"
    at = open_page(app_env, "supervisor", "risk_queue", tier="high,medium,low", size="25")
    assert "第 1–" in texts(at) and _param(at, "size") == "25"


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
