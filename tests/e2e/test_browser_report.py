"""The period report in Chromium: a supervisor picks the days, makes the report, sees it on the page and
downloads the PDF, whose text holds the Chinese headings and the top ring."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import go, settle, sign_in
from tests.helpers.wb_data import PASSWORD

pytestmark = pytest.mark.browser


def _report_frame(page: Any, timeout: float = 45) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for frame in page.frames:
            try:
                if "期间报告" in frame.evaluate("() => document.title"):
                    return frame
            except Exception:  # the frame is not ready yet
                pass
        time.sleep(0.25)
    raise AssertionError("the report was not shown")


def test_a_supervisor_makes_and_downloads_the_period_report(served: Served, page: Any) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    sign_in(page, served.url, "supervisor", PASSWORD)
    go(page, "期间报告")
    assert "from=" not in page.url                       # the defaults stay out of the address
    page.goto(f"{served.url}/report?from=2024-06-01&to=2024-06-30")   # a link to June 2024
    page.get_by_role("button", name="生成报告").wait_for(timeout=45_000)
    settle(page)
    assert page.get_by_role("spinbutton", name="month, 开始日期").inner_text() == "06"
    page.get_by_role("button", name="生成报告").click()
    settle(page)
    frame = _report_frame(page)
    body = frame.evaluate("() => document.body.innerText")
    assert "2024-06-01 至 2024-06-30" in body and "重点团伙" in body
    assert frame.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 300)")
    page.set_viewport_size({"width": 1400, "height": 1400})
    settle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "period-report.png"), full_page=False)
    page.get_by_role("button", name="生成 PDF").click()
    settle(page, timeout=90)
    with page.expect_download() as got:
        page.get_by_role("button", name="下载 PDF").click()
    data = open(got.value.path(), "rb").read()
    doc = pdfium.PdfDocument(data)
    text = re.sub(r"\s+", "", "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))))
    assert "期间报告" in text and "风险等级分布" in text
    assert served.demo.names[served.demo.ring.members[0]].removesuffix("有限公司") in text
