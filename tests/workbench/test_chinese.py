"""Issue 19, Chinese throughout: region names, audit actions and roles, human ring names as case titles."""

from __future__ import annotations

from graph.core.regions import region_name
from tests.helpers.wb_app import open_page, texts
from tests.helpers.wb_data import Demo


def test_region_codes_read_as_names() -> None:
    assert region_name("440100") == "广州市" and region_name("440300") == "深圳市"
    assert region_name("110105") == "北京市朝阳区" and region_name("440106") == "广州市天河区"   # counties: city + county
    assert region_name("429004") == "湖北省仙桃市"                # a county-level city directly under its province
    assert region_name("440199") == "广东省（440199）"           # a code not in the table: its province
    assert region_name("999999") == "999999" and region_name("杭州") == "杭州" and region_name(None) == ""


def test_the_region_table_is_the_full_gb_t_2260_list() -> None:
    from graph.core import regions

    names = regions._names()
    provinces = {k for k in names if len(k) == 2}
    counties = [k for k in names if len(k) == 6 and k[4:] != "00"]
    assert len(provinces) == 34 and len(counties) > 2800          # 31 provinces + HK, Macau, Taiwan; ~2,800 counties
    assert all(k[:2] in provinces for k in names)
    assert not [n for n in names.values() if "市辖区" in n or "直辖县级" in n]   # no placeholder rows


def test_audit_trail_speaks_chinese(app_env: Demo) -> None:
    open_page(app_env, "investigator")                          # at least one event (page reads are not needed)
    at = open_page(app_env, "supervisor", "audit")
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["序号", "时间", "操作人", "角色", "操作", "对象", "详情", "哈希"]
    codes = {"sign_in", "tier_override", "user_add", "case_open", "data_export"}
    assert not codes & set(frame["操作"]) and not {"supervisor", "investigator"} & set(frame["角色"])


def test_rings_list_and_case_title_use_the_human_name(app_env: Demo) -> None:
    at = open_page(app_env, "investigator", "rings", ring=app_env.ring.ring_id)
    title = next(t.value for t in at.text_input if t.label == "案件标题")
    assert title.startswith("时序环路 · ") and app_env.ring.ring_id not in title   # was: 团伙 run-…-cycle-… 调查
    assert any(s.value.replace("\\", "") == title for s in at.subheader)
    listing = open_page(app_env, "investigator", "rings").dataframe[0].value
    assert all(" · " in t for t in listing["团伙"]) and set(listing["编号"]) >= {app_env.ring.ring_id}
    assert "团伙编号" in texts(at)


def test_region_column_of_the_risk_queue_shows_names(app_env: Demo) -> None:
    frame = open_page(app_env, "supervisor", "risk_queue").dataframe[0].value
    assert set(frame["地区"]) <= {"广州市", "深圳市"}
