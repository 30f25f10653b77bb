"""End to end in headless Chromium: sign in, find a ring member, open the ring, see its invoices and
its network drawn; a taxpayer named <script>alert(1)</script> stays text everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import go, network_frame, painted_pixels, settle, sign_in
from tests.helpers.wb_data import PASSWORD, XSS_NAME

pytestmark = pytest.mark.browser


def test_investigator_finds_a_ring_member_and_opens_the_ring(served: Served, page: Any) -> None:
    demo, ring = served.demo, served.demo.ring
    member = ring.members[0]
    sign_in(page, served.url, "investigator", PASSWORD)
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "网络探索" in nav and "团伙" in nav
    assert "数据导入" not in nav and "用户管理" not in nav   # pages the investigator's role does not open
    go(page, "网络探索")
    box = page.get_by_label("搜索纳税人（名称片段或税号）")
    box.fill(demo.names[member][:4])
    box.press("Enter")
    settle(page)
    frame = network_frame(page, showing=member)
    page.locator(f'a[href*="ring={ring.ring_id}"]').first.click()  # the "member of rings" link
    page.get_by_text("构成团伙的发票（按时间顺序）").wait_for(timeout=45_000)
    settle(page)
    frame = network_frame(page, showing=ring.members[-1])
    assert sorted(frame.evaluate("() => nodes.getIds()")) == sorted(ring.members)
    assert painted_pixels(frame) > 500
    # the invoice table: one row per invoice of the ring (Streamlit's grid reports its row count)
    grids = page.locator('[data-testid="stDataFrame"]')
    assert grids.count() >= 2
    assert page.get_by_text(ring.evidence).count() >= 1
    page.set_viewport_size({"width": 1400, "height": 2000})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "ring-detail.png"), full_page=True)
    assert page.dialogs == []


def test_script_name_renders_as_text_in_tables_and_network(served: Served, page: Any) -> None:
    demo = served.demo
    sign_in(page, served.url, "investigator", PASSWORD)
    go(page, "网络探索")
    box = page.get_by_label("搜索纳税人（名称片段或税号）")
    box.fill(demo.xss_id)
    box.press("Enter")
    settle(page)
    frame = network_frame(page, showing=demo.xss_id)
    assert frame.evaluate(f"() => nodes.get('{demo.xss_id}').label") == XSS_NAME
    assert frame.locator("script", has_text="alert(1)").count() == 0
    assert painted_pixels(frame) > 500
    # the centre picker shows the name as text; retried until it shows (a count taken once could catch the page
    # between two renders: it was 0 in 1 of ~10 runs on a busy machine)
    from playwright.sync_api import expect  # here: the module must import without playwright (skip)

    expect(page.get_by_text(XSS_NAME, exact=False)).not_to_have_count(0, timeout=30_000)
    page.set_viewport_size({"width": 1400, "height": 1800})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explorer-script-name.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    go(page, "纳税人画像")
    box = page.get_by_label("税号或名称")
    box.fill(demo.xss_id)
    box.press("Enter")
    settle(page)
    page.get_by_role("heading", name=XSS_NAME).wait_for(timeout=30_000)
    assert page.dialogs == []
