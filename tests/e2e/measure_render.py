"""Measure, in headless Chromium, how long the workbench takes to render a ring page and a large
explorer view on a prepared demo workspace (``fapiao demo --data DIR --no-serve`` first).

    .venv/bin/python -m tests.e2e.measure_render DIR [--nodes 500] [--shots test-artifacts]

Prints a table: what was opened, nodes drawn, seconds from the click / Enter to the network drawn on
the canvas (and the page settled). Not a test: a measurement to report (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import CHROMIUM, LAUNCH_ARGS, _free_port
from tests.helpers.browser import go, network_frame, settle, sign_in

ROOT = Path(__file__).resolve().parents[2]



def _targets(uri: str) -> tuple[str, str, str]:
    """(ring id, one of its members, the taxpayer with the most counterparties) from the workspace."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from graph import open_store

    store = open_store(uri)
    try:
        rings = [r for r in store.rings() if r.kind == "cycle"] or store.rings()
        ring = max(rings, key=lambda r: (len(r.members), r.score))
        edges = store.edge_table()
        ends = pa.concat_arrays([edges.column("seller_tax_id").combine_chunks(),
                                 edges.column("buyer_tax_id").combine_chunks()])
        counts = pc.value_counts(ends).to_pylist()
        hub = max(counts, key=lambda c: c["counts"])["values"]
        return ring.ring_id, ring.members[0], hub
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--shots", type=Path, default=ROOT / "test-artifacts")
    a = ap.parse_args()
    uri = f"embedded:{a.data.resolve() / 'workspace'}"
    ring_id, member, hub = _targets(uri)
    from playwright.sync_api import sync_playwright

    from workbench.cli.serve import streamlit_command

    port = _free_port()
    env = dict(os.environ, FAPIAO_STORE=uri, FAPIAO_DEMO="1")
    proc = subprocess.Popen(streamlit_command(port, "127.0.0.1"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, int, float]] = []
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        a.shots.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sign_in(page, url, "investigator", "demo-investigator")
            go(page, "网络探索")
            box = page.get_by_label("搜索纳税人（名称片段或税号）")
            box.fill(member)
            box.press("Enter")
            settle(page, 120)
            t0 = time.perf_counter()
            page.locator(f'a[href*="ring={ring_id}"]').first.click()
            page.get_by_text("构成团伙的发票（按时间顺序）").wait_for(timeout=120_000)
            frame = network_frame(page, 120, showing=member)
            settle(page, 120)
            rows.append((f"ring page {ring_id}", int(frame.evaluate("() => nodes.length")), time.perf_counter() - t0))
            page.screenshot(path=str(a.shots / "measure-ring.png"))

            go(page, "网络探索")
            box = page.get_by_label("搜索纳税人（名称片段或税号）")
            box.fill(hub)
            box.press("Enter")
            settle(page, 300)
            network_frame(page, 300, showing=hub)
            page.get_by_label("最多节点").fill(str(a.nodes))
            page.get_by_label("最多节点").press("Enter")
            settle(page, 300)
            one_hop = int(network_frame(page, 300, showing=hub).evaluate("() => nodes.length"))
            t0 = time.perf_counter()
            page.get_by_role("slider").first.focus()
            page.keyboard.press("ArrowRight")  # hops 1 -> 2: the big view
            deadline = time.time() + 300
            frame = None
            while time.time() < deadline:
                frame = network_frame(page, 300, showing=hub)
                if int(frame.evaluate("() => nodes.length")) > one_hop:
                    break
                time.sleep(0.1)
            settle(page, 300)
            assert frame is not None
            rows.append((f"explorer 2 hops around {hub}", int(frame.evaluate("() => nodes.length")),
                         time.perf_counter() - t0))
            page.screenshot(path=str(a.shots / "measure-explorer.png"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"{'view':<48} {'nodes':>6} {'seconds':>8}")
    for name, nodes, secs in rows:
        print(f"{name:<48} {nodes:>6} {secs:>8.2f}")


if __name__ == "__main__":
    main()
