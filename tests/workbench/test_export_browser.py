"""The exported case report opens offline in a real browser: images load, the network draws, no request leaves."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.helpers.g_case_data import open_embedded, seed
from workbench import cases, export

CHROMIUM = "/usr/bin/chromium"


def _skip_or_fail(msg: str) -> None:
    if os.environ.get("FAPIAO_REQUIRE_BROWSER", "0").strip().lower() in {"1", "true", "yes", "on"}:
        pytest.fail(msg + " (FAPIAO_REQUIRE_BROWSER=1)")
    pytest.skip(msg)


@pytest.mark.browser
def test_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"BROWSER UNAVAILABLE: {CHROMIUM} missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("BROWSER UNAVAILABLE: playwright not installed")
    store = open_embedded(tmp_path / "ws")
    u = seed(store)
    c = cases.open_case_from_ring(store, u["investigator"], "R-1", title="上海环路")
    path = export.export_case(store, u["analyst"], c.case_id, tmp_path / "out")
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp_path / "unzipped")
    report = (tmp_path / "unzipped" / "report.html").resolve()
    external: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: (external.append(route.request.url), route.abort())
                       if not route.request.url.startswith(("file:", "data:", "about:")) else route.continue_())
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            assert len(widths) == 2 and all(w > 300 for w in widths)
            frame = page.frames[1]
            frame.wait_for_selector("canvas", timeout=20_000)
            assert "上海环路" in page.inner_text("h1")
            assert page.evaluate("() => window.__xss === undefined")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        finally:
            browser.close()
    assert external == []
