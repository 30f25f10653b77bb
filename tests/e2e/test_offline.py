"""Offline by design: every page, as every role, loads nothing from outside 127.0.0.1 (no CDN favicon, fonts
or scripts), and Streamlit's metrics endpoint names nobody."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import go, settle, sign_in, steady
from tests.helpers.wb_data import PASSWORD

pytestmark = pytest.mark.browser
LOCAL = {"127.0.0.1", "localhost", ""}
#: Streamlit's own English words that showed in the Chinese UI (placeholders, uploader, navigation errors)
STREAMLIT_ENGLISH = ("Choose an option", "Choose options", "Page not found", "Drag and drop", "Browse files",
                     "per file", "No results", "Upload")
#: codes the workbench stores that the Chinese UI shows in words (audit actions, actors, details; tiers)
STORED_CODES = ("anonymous", "roles=", "sign_in", "user_add", "tier_override", " -> ",   # (icon names hold "high")
                '"code":')   # a coded note (graph.core.notes) shown as stored, not worded


@pytest.mark.parametrize("role", ["investigator", "supervisor", "analyst", "admin"])
def test_every_page_loads_nothing_from_outside(served: Served, page: Any, role: str) -> None:
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).hostname not in LOCAL
            and urlsplit(r.url).scheme not in ("data", "blob", "about") else None)
    sign_in(page, served.url, role, PASSWORD)
    titles = [t.strip().splitlines()[-1] for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
              if t.strip()]   # the text after the icon name
    assert len(titles) >= 3, titles
    english: dict[str, list[str]] = {}
    for n, title in enumerate(titles):
        go(page, title)
        steady(page)   # the whole page drawn, not its first placeholders
        page.screenshot(path=str(ARTIFACTS / f"walk-{role}-{n:02d}.png"))   # to look at
        text = page.locator('[data-testid="stAppViewContainer"]').inner_text()
        english[title] = [w for w in (*STREAMLIT_ENGLISH, *STORED_CODES) if w in text]
    settle(page)
    assert outside == [], sorted(set(outside))
    assert {t: w for t, w in english.items() if w} == {}   # issue 19: no English Streamlit string in the Chinese UI


def test_metrics_endpoint_is_not_served(served: Served, page: Any) -> None:
    """Streamlit's /_stcore/metrics (no setting turns it off) answers 404 from the workbench's server, in any
    spelling of the path; the health check Streamlit's client needs still answers."""
    sign_in(page, served.url, "investigator", PASSWORD)
    for path in ("/_stcore/metrics", "//_stcore/metrics", "/_stcore/metrics/", "/_stcore/METRICS"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(served.url + path, timeout=10)
        assert refused.value.code == 404, path
    with urllib.request.urlopen(served.url + "/_stcore/health", timeout=10) as r:
        assert r.status == 200


def test_a_select_box_search_that_matches_nothing_says_so_in_chinese(served: Served, page: Any) -> None:
    """Typing into a multiselect or select box what no option matches: Streamlit's "No results" is hidden, the
    list says 无匹配项 (drawn by CSS) instead."""
    sign_in(page, served.url, "supervisor", PASSWORD)
    go(page, "风险队列")
    for widget in ("stMultiSelect", "stSelectbox"):
        page.locator(f'[data-testid="{widget}"] input').first.click()
        page.keyboard.type("zzz")
        empty = page.locator('[role="listbox"][data-empty="true"]')
        empty.wait_for(timeout=10_000)
        assert page.get_by_text("No results").first.is_visible() is False
        assert "无匹配项" in empty.evaluate("e => getComputedStyle(e, '::after').content")
        page.screenshot(path=str(ARTIFACTS / f"no-match-{widget}.png"))
        page.keyboard.press("Escape")
        settle(page)
