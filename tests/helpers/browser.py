"""Helpers to drive the workbench in Chromium the way a user does (sign in, follow links, wait for renders)."""

from __future__ import annotations

import time
from typing import Any

MAIN = '[data-testid="stMainBlockContainer"]'


def settle(page: Any, timeout: float = 45) -> None:
    """Wait until Streamlit has finished the current run (no running indicator, no spinners)."""
    page.wait_for_selector(MAIN, timeout=timeout * 1000)
    deadline = time.time() + timeout
    time.sleep(0.3)
    while time.time() < deadline:
        busy = page.locator('[data-testid="stStatusWidget"]').count() + page.locator('[data-testid="stSpinner"]').count()
        if busy == 0:
            break
        time.sleep(0.2)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def sign_in(page: Any, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="总览").wait_for(timeout=45_000)
    settle(page)


def go(page: Any, title: str) -> None:
    """Open a page from the sidebar navigation."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=45_000)
    settle(page)


def network_frame(page: Any, timeout: float = 45, *, showing: str | None = None) -> Any:
    """The iframe that holds the pyvis network, once vis-network has drawn its nodes on the canvas
    (and, with ``showing``, once that node id is among them: the view of the current run, not an old one)."""
    deadline = time.time() + timeout
    check = "() => typeof network !== 'undefined' && network.body.nodeIndices.length > 0"
    if showing is not None:
        check = f"() => typeof network !== 'undefined' && network.body.nodeIndices.includes({showing!r})"
    while time.time() < deadline:
        for frame in page.frames:
            try:
                if frame.evaluate(check):
                    return frame
            except Exception:  # frame not ready / navigated
                pass
        time.sleep(0.25)
    raise AssertionError("no pyvis network was drawn")


def painted_pixels(frame: Any) -> int:
    """How many canvas pixels are not transparent/white: > 0 means something is really drawn."""
    return int(frame.evaluate("""() => {
        const c = document.querySelector('#mynetwork canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 0 && (d[i] < 240 || d[i+1] < 240 || d[i+2] < 240)) n++; }
        return n; }"""))


def steady(page: Any, quiet: float = 1.0, timeout: float = 30) -> str:
    """Wait until the page's main text has not changed for ``quiet`` seconds (a page still drawing its first
    run shows grey placeholders and passes :func:`settle`); return that text."""
    deadline = time.time() + timeout
    main = page.locator('[data-testid="stMain"]')
    text, since = main.inner_text(), time.time()
    while time.time() < deadline:
        time.sleep(0.25)
        now = main.inner_text()
        if now != text:
            text, since = now, time.time()
        elif time.time() - since >= quiet:
            break
    settle(page)
    return str(text)
