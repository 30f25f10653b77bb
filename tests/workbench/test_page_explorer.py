"""Network explorer: search, ego network, expand, node cap note, the same invoices as a table."""

from __future__ import annotations

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo


def _neighbours(demo: Demo, tax_id: str) -> set[str]:
    out = set()
    for inv in demo.invoices:
        if inv["seller_tax_id"] == tax_id:
            out.add(str(inv["buyer_tax_id"]))
        if inv["buyer_tax_id"] == tax_id:
            out.add(str(inv["seller_tax_id"]))
    return out


def _view_ids(html: str, demo: Demo) -> set[str]:
    return {t for t in demo.names if f'"id": "{t}"' in html}


def test_search_draws_the_one_hop_network_and_its_invoices(app_env: Demo) -> None:
    hub = app_env.high_new
    at = open_page(app_env, "investigator", "explorer", tax_id=app_env.names[hub][:4])
    assert at.selectbox(key="ex_centre").value.tax_id == hub
    html = at.get("iframe")[0].proto.srcdoc
    assert _view_ids(html, app_env) == {hub} | _neighbours(app_env, hub)
    touching = [i for i in app_env.invoices if hub in (i["seller_tax_id"], i["buyer_tax_id"])]
    assert len(at.dataframe[0].value) == len(touching)


def test_expand_adds_the_node_neighbourhood(app_env: Demo) -> None:
    hub = app_env.high_new
    at = open_page(app_env, "investigator", "explorer", tax_id=hub)
    other = sorted(_neighbours(app_env, hub) - {app_env.xss_id})[0]
    at.selectbox(key=f"ex_pick_{hub}").set_value(other).run()
    next(b for b in at.button if b.label == "展开").click().run()
    html = at.get("iframe")[0].proto.srcdoc
    assert _view_ids(html, app_env) == {hub} | _neighbours(app_env, hub) | _neighbours(app_env, other)


def test_node_cap_keeps_the_view_small_and_says_what_was_cut(app_env: Demo) -> None:
    hub = app_env.high_new
    at = open_page(app_env, "investigator", "explorer", tax_id=hub)
    at.number_input(key="ex_cap").set_value(3).run()
    assert len(_view_ids(at.get("iframe")[0].proto.srcdoc, app_env)) == 3
    assert any("省略" in w.value for w in at.warning)


def test_unknown_name_says_nothing_found(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "explorer", tax_id="不存在的公司")
    assert any("没有找到" in w.value for w in at.warning)
