"""Page filters in the address (issue 19 item 2): the rings list and the risk queue start from ``?…`` and
write every change back, so a refresh or a link opens the same view; a bad or old value is ignored."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench.ui import urlstate


def _param(at: object, name: str) -> str | None:
    value = at.query_params.get(name)  # type: ignore[attr-defined]
    return value[0] if isinstance(value, list) else value   # AppTest gives lists


def test_a_rings_link_opens_with_its_filters(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", kind="fan_hub", score="0.5")
    assert at.multiselect(key="rings_kinds").value == ["fan_hub"]
    assert at.slider(key="rings_score").value == 0.5
    assert at.dataframe[0].value["编号"].tolist() == [app_env.new_ring.ring_id]   # the cycle ring is filtered out


def test_changing_a_rings_filter_writes_it_to_the_address_and_the_default_leaves_it(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings")
    assert _param(at, "score") is None
    at.slider(key="rings_score").set_value(0.9).run()
    assert _param(at, "score") == "0.9"
    at.number_input(key="rings_amount").set_value(20).run()
    assert _param(at, "min_wan") == "20"
    at.slider(key="rings_score").set_value(0.0).run()
    assert _param(at, "score") is None and _param(at, "min_wan") == "20"


def test_a_rings_date_range_in_the_link_turns_the_date_filter_on(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", dated="1", dates="2024-04-01..2024-04-30")
    assert at.toggle(key="rings_use_dates").value is True
    assert at.dataframe[0].value["编号"].tolist() == [app_env.new_ring.ring_id]   # the hub traded in April 2024
    assert _param(at, "dates") == "2024-04-01..2024-04-30"


def test_bad_values_in_a_link_are_ignored(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", kind="bogus,fan_hub", score="7", min_wan="x")
    assert at.multiselect(key="rings_kinds").value == ["fan_hub"]
    assert at.slider(key="rings_score").value == 0.0 and at.number_input(key="rings_amount").value == 0
    assert _param(at, "score") is None and _param(at, "min_wan") is None


def test_a_queue_link_opens_with_its_tiers_and_search(app_env: Demo) -> None:
    name = app_env.names[app_env.high_new]
    at = open_page(app_env, "supervisor", "risk_queue", tier="high", q=name[:4])
    assert at.multiselect(key="rq_tiers").value == ["high"]
    assert at.text_input(key="rq_search").value == name[:4]
    assert at.dataframe[0].value.iloc[:, 0].tolist() == [app_env.high_new]
    at.multiselect(key="rq_tiers").set_value(["high", "medium", "low"]).run()
    assert _param(at, "tier") == "high,medium,low" and _param(at, "q") == name[:4]


def test_codecs() -> None:
    assert urlstate.days("2024-01-01..2024-01-31") == (date(2024, 1, 1), date(2024, 1, 31))
    with pytest.raises(ValueError):
        urlstate.days("2024-02-01..2024-01-01")
    assert urlstate.dump_days((date(2024, 1, 1),)) == ""           # a half-picked range stays out of the address
    assert urlstate.flag("1") is True and urlstate.dump_flag(False) == "0"
    with pytest.raises(ValueError):
        urlstate.flag("yes")
    assert urlstate.choices(["a", "b"])("b,c,a") == ["b", "a"]


def _sidebar_to(at: AppTest, page: str) -> None:
    """What a click in the sidebar does: the next page opens without the query string (AppTest keeps it)."""
    for name in list(at.query_params):
        del at.query_params[name]
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]


def test_filters_survive_a_round_trip_through_the_sidebar(app_env: Demo) -> None:
    """Sidebar navigation opens a page without its query string; the page's last filters come back."""
    at = open_page(app_env, "supervisor", "rings")
    at.slider(key="rings_score").set_value(0.9).run()
    at.multiselect(key="rings_kinds").set_value(["fan_hub"]).run()
    _sidebar_to(at, "risk_queue")
    assert _param(at, "score") is None and _param(at, "kind") is None   # the queue has its own filters
    at.multiselect(key="rq_tiers").set_value(["high"]).run()
    _sidebar_to(at, "rings")
    assert at.slider(key="rings_score").value == 0.9
    assert at.multiselect(key="rings_kinds").value == ["fan_hub"]
    assert _param(at, "score") == "0.9" and _param(at, "kind") == "fan_hub"   # back in the address (F5, bookmark)
    _sidebar_to(at, "risk_queue")
    assert at.multiselect(key="rq_tiers").value == ["high"] and _param(at, "tier") == "high"


def test_a_link_with_filters_wins_over_the_remembered_ones(app_env: Demo) -> None:
    at = open_page(app_env, "supervisor", "rings")
    at.slider(key="rings_score").set_value(0.9).run()
    _sidebar_to(at, "overview")
    at.query_params["kind"] = "fan_hub"
    at.switch_page("screens/rings.py").run()
    assert at.multiselect(key="rings_kinds").value == ["fan_hub"]
    assert at.slider(key="rings_score").value == 0.0   # the link names the whole view


def test_a_remembered_date_range_comes_back_with_its_toggle(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", dated="1", dates="2024-04-01..2024-04-30")
    _sidebar_to(at, "overview")
    _sidebar_to(at, "rings")
    assert at.toggle(key="rings_use_dates").value is True
    assert _param(at, "dates") == "2024-04-01..2024-04-30"
    assert at.dataframe[0].value["编号"].tolist() == [app_env.new_ring.ring_id]
