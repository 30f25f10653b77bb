"""The ring page's time slider in Chromium: the ring's invoices replay in time order, one edge at a time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import network_frame, painted_pixels, settle, sign_in
from tests.helpers.wb_data import PASSWORD
from workbench.fmt import when

pytestmark = pytest.mark.browser

VISIBLE = "() => edges.get().filter(e => !e.hidden).map(e => e.id)"


def test_the_ring_replays_its_invoices_in_time_order(served: Served, page: Any) -> None:
    ring = served.demo.ring
    invoices = sorted((i for i in served.demo.invoices if i["key"] in ring.invoice_keys),
                      key=lambda i: i["issued_at"])  # type: ignore[arg-type, return-value]
    sign_in(page, served.url, "investigator", PASSWORD)
    page.goto(f"{served.url}/rings?ring={ring.ring_id}")
    page.get_by_text("构成团伙的发票（按时间顺序）").wait_for(timeout=45_000)
    settle(page)
    frame = network_frame(page, showing=ring.members[0])
    steps = frame.evaluate("() => fapiaoReplay.steps")
    assert len(steps) == len(invoices) == 6
    assert [s[0] for s in steps] == [f"{i['seller_tax_id']}|{i['buyer_tax_id']}" for i in invoices]
    assert [s[1][:16] for s in steps] == [when(i["issued_at"]) for i in invoices]   # type: ignore[arg-type]
    assert len(frame.evaluate(VISIBLE)) == 3                        # at first the whole ring is drawn
    frame.evaluate("() => fapiaoShow(1)")
    assert frame.evaluate(VISIBLE) == [steps[0][0]]                 # the first invoice's edge only
    assert frame.locator("#fapiaoText").inner_text().startswith("第 1 / 6 张：")
    frame.locator("#fapiaoPlay").click()                           # plays from where it is, 0.7 s an invoice
    deadline = time.time() + 20
    while frame.evaluate("() => +document.getElementById('fapiaoStep').value") < 6 and time.time() < deadline:
        time.sleep(0.3)
    assert frame.evaluate("() => +document.getElementById('fapiaoStep').value") == 6
    assert sorted(frame.evaluate(VISIBLE)) == sorted({s[0] for s in steps})
    assert frame.locator("#fapiaoPlay").inner_text() == "▶ 回放"     # stopped at the end
    frame.evaluate("() => fapiaoShow(4)")
    time.sleep(0.3)
    assert painted_pixels(frame) > 2000
    frame.locator("#fapiaoReplay").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "ring-replay.png"), full_page=False)
