"""Risk queue: filters, and a supervisor's override and assignment written, audited and shown."""

from __future__ import annotations

from graph.embedded import EmbeddedStore
from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo
from workbench.overrides import effective_scores


def _high_ids(demo: Demo) -> list[str]:
    store = EmbeddedStore(demo.path)
    try:
        return [r["tax_id"] for r in store.scores().to_pylist() if r["tier"] in ("high", "medium")]
    finally:
        store.close()


def test_queue_lists_high_and_medium_by_default_and_filters_by_search(app_env: Demo) -> None:
    at = open_page(app_env, "supervisor", "risk_queue")
    table = at.dataframe[0].value
    assert sorted(table.iloc[:, 0].tolist()) == sorted(_high_ids(app_env))
    at.text_input(key="rq_search").input(app_env.names[app_env.high_new][:4]).run()
    assert at.dataframe[0].value.iloc[:, 0].tolist() == [app_env.high_new]


def test_the_empty_taxpayer_picker_speaks_chinese(app_env: Demo) -> None:
    """Seen in the demo: the picker under the queue showed Streamlit's "Choose an option" in the Chinese UI."""
    at = open_page(app_env, "supervisor", "risk_queue")
    picker = at.selectbox(key="rq_pick")
    assert picker.value is None and picker.proto.placeholder == "请选择"


def test_override_and_assign_are_written_audited_and_visible(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "supervisor", "risk_queue")
    target = fresh_env.high_new
    at.selectbox(key="rq_pick").set_value(target).run()
    next(b for b in at.button if b.label == "分派").click().run()
    assert any("已分派" in s.value for s in at.success)
    next(s for s in at.selectbox if s.label == "新等级").set_value("low")
    next(t for t in at.text_area if "理由" in t.label).input("经核实为正常批发商，误报")
    next(b for b in at.button if b.label == "保存调整").click().run()
    assert not at.exception
    assert any("已保存调整" in s.value for s in at.success)

    store = EmbeddedStore(fresh_env.path)
    row = effective_scores(store).set_index("tax_id").loc[target]
    actions = [e.action for e in store.audit_events() if e.target.endswith(target)]
    store.close()
    assert row["tier"] == "low" and row["model_tier"] == "high"
    assert row["override_reason"] == "经核实为正常批发商，误报"
    assert row["assignee"] == "investigator"
    assert {"tier_override", "assign"} <= set(actions)
    # the queue now shows the override (all tiers selected so the low row stays visible)
    at.multiselect[0].set_value(["high", "medium", "low"]).run()
    shown = at.dataframe[0].value.set_index("税号")
    assert shown.loc[target, "当前等级"] == "低风险" and shown.loc[target, "调整理由"] == "经核实为正常批发商，误报"


def test_investigator_sees_the_queue_but_cannot_override(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "risk_queue")
    at.selectbox(key="rq_pick").set_value(app_env.high_new).run()
    assert not [b for b in at.button if b.label == "保存调整"]
    assert any("只有审核主管" in c.value for c in at.caption)


def test_override_to_low_keeps_the_taxpayer_in_the_picker_for_assignment(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "supervisor", "risk_queue")
    target = fresh_env.high_new
    at.selectbox(key="rq_pick").set_value(target).run()
    next(s for s in at.selectbox if s.label == "新等级").set_value("low")
    next(t for t in at.text_area if "理由" in t.label).input("核实后降为低风险")
    next(b for b in at.button if b.label == "保存调整").click().run()
    assert target not in at.dataframe[0].value["税号"].tolist()      # out of the high/medium filter ...
    assert at.selectbox(key="rq_pick").value == target              # ... but still the one acted on (was: reset)
    next(b for b in at.button if b.label == "分派").click().run()
    assert any("已分派" in s.value for s in at.success)


def test_a_taxpayer_without_override_or_assignee_shows_blanks_not_none(app_env: Demo) -> None:
    at = open_page(app_env, "supervisor", "risk_queue")
    table = at.dataframe[0].value
    for column in ("调整理由", "调整人", "承办人"):
        assert table[column].tolist() == [""] * len(table), column   # was: the English word None in every cell


def test_the_override_offers_only_tiers_other_than_the_one_in_force(app_env: Demo) -> None:
    """Walking the demo, a supervisor saved the default 高风险 over a 高风险 taxpayer: the trail recorded
    "high -> high", an override that changes nothing."""
    at = open_page(app_env, "supervisor", "risk_queue")
    at.selectbox(key="rq_pick").set_value(app_env.high_new).run()
    assert next(s for s in at.selectbox if s.label == "新等级").options == ["中风险", "低风险"]
    profile = open_page(app_env, "supervisor", "taxpayer", tax_id=app_env.high_new)
    assert next(s for s in profile.selectbox if s.label == "新等级").options == ["中风险", "低风险"]
