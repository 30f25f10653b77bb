"""Filters in the address, in Chromium (issue 19 item 2): a link to a filtered rings list opens filtered,
a filter typed on the risk queue goes into the address, and F5 keeps both."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import MAIN, go, settle, sign_in
from tests.helpers.wb_data import PASSWORD

pytestmark = pytest.mark.browser


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _filters(page: Any) -> tuple[list[str], float]:
    """The rings list's kind chips and minimum score as the browser shows them (once a chip is drawn)."""
    main = page.locator(MAIN)
    main.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]').first.wait_for(timeout=45_000)
    chips = main.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]').evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    return chips, float(main.locator('[data-testid="stSliderThumbValue"]').first.inner_text())


def test_a_filtered_rings_link_and_a_refresh_keep_the_filters(served: Served, page: Any) -> None:
    sign_in(page, served.url, "investigator", PASSWORD)
    page.goto(f"{served.url}/rings?kind=fan_hub&score=0.5")
    page.get_by_text("筛选后 1 个").wait_for(timeout=45_000)
    settle(page)
    assert _filters(page) == (["扇入扇出枢纽"], 0.5)
    page.reload()
    page.get_by_text("筛选后 1 个").wait_for(timeout=45_000)
    settle(page)
    assert _query(page) == {"kind": ["fan_hub"], "score": ["0.5"]}
    assert _filters(page) == (["扇入扇出枢纽"], 0.5)
    page.screenshot(path=str(ARTIFACTS / "rings-filtered-link.png"), full_page=False)


def test_a_queue_search_goes_into_the_address_and_survives_f5(served: Served, page: Any) -> None:
    demo = served.demo
    words = demo.names[demo.high_new][:4]
    sign_in(page, served.url, "supervisor", PASSWORD)
    go(page, "风险队列")
    box = page.get_by_label("搜索名称或税号")
    box.fill(words)
    box.press("Enter")
    settle(page)
    page.get_by_text("共 1 户").wait_for(timeout=45_000)
    assert _query(page).get("q") == [words]
    page.reload()
    page.get_by_text("共 1 户").wait_for(timeout=45_000)
    settle(page)
    assert page.get_by_label("搜索名称或税号").input_value() == words
    assert _query(page).get("q") == [words]


CUT_CHIPS = """els => els.filter(e => { const t = e.querySelector('span[title]');
    return t && (t.scrollWidth > t.clientWidth + 1 || e.getBoundingClientRect().right > e.closest('[data-testid="stMultiSelectTagsContainer"]').getBoundingClientRect().right + 1); })
  .map(e => e.getAttribute('aria-label'))"""


def test_all_three_tier_chips_fit_in_the_queue_filter(served: Served, page: Any) -> None:
    sign_in(page, served.url, "supervisor", PASSWORD)
    page.goto(f"{served.url}/risk_queue?tier=high,medium,low")
    page.get_by_text("共 10 户").wait_for(timeout=45_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "risk-queue-tiers.png"), full_page=False)
    chips = page.locator(MAIN).locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
    assert chips.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")[:3] == ["高风险", "中风险", "低风险"]
    assert chips.evaluate_all(CUT_CHIPS) == []       # was: 中风险 cut off in the narrow column


def test_filters_survive_a_round_trip_through_the_sidebar(served: Served, page: Any) -> None:
    """The sidebar opens a page without its query string; the rings list comes back filtered and says so
    in the address (was: back to no filter)."""
    sign_in(page, served.url, "investigator", PASSWORD)
    page.goto(f"{served.url}/rings?kind=fan_hub&score=0.5")
    page.get_by_text("筛选后 1 个").wait_for(timeout=45_000)
    settle(page)
    go(page, "风险队列")
    assert "kind" not in _query(page)
    go(page, "团伙")
    page.get_by_text("筛选后 1 个").wait_for(timeout=45_000)
    settle(page)
    assert _filters(page) == (["扇入扇出枢纽"], 0.5)
    assert _query(page) == {"kind": ["fan_hub"], "score": ["0.5"]}
