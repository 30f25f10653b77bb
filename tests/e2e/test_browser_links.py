"""Issue 19 in Chromium: a link opened while signed out lands on its page after sign-in, a refresh keeps
the user signed in on the same page and in the same language, sign-out ends it for every tab, and a page
the user's roles do not open says so (never Streamlit's English "Page not found")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, Served
from tests.helpers.browser import MAIN, settle
from tests.helpers.wb_data import PASSWORD

pytestmark = pytest.mark.browser
RING_TABLE = "构成团伙的发票（按时间顺序）"


def _sign_in_here(page: Any, username: str) -> None:
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_deep_link_refresh_language_and_sign_out(served: Served, page: Any) -> None:
    ring = served.demo.ring
    page.goto(f"{served.url}/rings?ring={ring.ring_id}")
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    _sign_in_here(page, "investigator")
    page.get_by_text(RING_TABLE).wait_for(timeout=45_000)     # the ring asked for, not the overview
    settle(page)
    assert page.url.endswith(f"/rings?ring={ring.ring_id}")
    cookie = {c["name"]: c for c in page.context.cookies()}["fapiao_session"]
    assert cookie["sameSite"] == "Strict" and ring.ring_id not in cookie["value"]
    assert cookie["httpOnly"] and "fapiao_session" not in page.evaluate("document.cookie")   # set by the server
    page.screenshot(path=str(ARTIFACTS / "deep-link-ring.png"))

    page.reload()                                             # F5
    page.get_by_text(RING_TABLE).wait_for(timeout=45_000)
    settle(page)
    assert page.locator(MAIN).get_by_text("用户名").count() == 0

    page.locator('[data-testid="stSidebar"]').get_by_text("English", exact=True).click()
    settle(page)
    page.reload()
    page.get_by_text("The invoices that make the ring, in time order").wait_for(timeout=45_000)

    tab = page.context.browser.new_context(storage_state=page.context.storage_state())   # another tab: same cookies
    other = tab.new_page()
    other.goto(f"{served.url}/explorer")
    other.get_by_role("heading", name="Network explorer").wait_for(timeout=45_000)
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    settle(page)
    other.reload()
    other.get_by_label("User name").wait_for(timeout=45_000)  # the session ended on the server
    tab.close()
    assert page.dialogs == []


def test_a_page_outside_the_role_says_access_denied(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/rings")
    settle(page)
    _sign_in_here(page, "admin")
    page.get_by_text("无权访问").wait_for(timeout=45_000)
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_text(RING_TABLE).count() == 0
