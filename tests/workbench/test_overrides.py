"""Tier overrides and assignments: reason required, history kept, effective scores merge the latest."""

from __future__ import annotations

import json

import pytest

from graph.core.errors import InvalidData
from graph.store import Store
from tests.helpers.g_case_data import TAX_IDS, open_embedded, seed
from workbench import audit, overrides
from workbench.auth import User


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, User]]:
    store = open_embedded(tmp_path_factory.mktemp("ov") / "ws")
    return store, seed(store)


def test_override_needs_reason_and_valid_tier(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    with pytest.raises(InvalidData, match="reason"):
        overrides.override_tier(store, u["supervisor"], TAX_IDS[0], "low", "  ")
    with pytest.raises(InvalidData):
        overrides.override_tier(store, u["supervisor"], TAX_IDS[0], "extreme", "because so")


def test_effective_scores_apply_latest_override_and_assignee(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    model = {r["tax_id"]: r["tier"] for r in store.scores().to_pylist()}
    sup = u["supervisor"]
    overrides.override_tier(store, sup, TAX_IDS[2], "medium", "同一法人关联高风险企业")
    overrides.override_tier(store, sup, TAX_IDS[2], "high", "补充证据：资金回流")
    overrides.assign(store, sup, TAX_IDS[2], "ivan")
    with pytest.raises(InvalidData):
        overrides.assign(store, sup, TAX_IDS[2], "ana")  # analysts do not investigate
    df = overrides.effective_scores(store).set_index("tax_id")
    assert df.loc[TAX_IDS[2], "tier"] == "high" and df.loc[TAX_IDS[2], "model_tier"] == model[TAX_IDS[2]]
    assert bool(df.loc[TAX_IDS[2], "overridden"]) and df.loc[TAX_IDS[2], "override_reason"] == "补充证据：资金回流"
    assert df.loc[TAX_IDS[2], "assignee"] == "ivan"
    assert df.loc[TAX_IDS[0], "tier"] == model[TAX_IDS[0]] and not bool(df.loc[TAX_IDS[0], "overridden"])
    hist = overrides.history(store, TAX_IDS[2])
    tiers = [h["tier"] for h in hist if h["kind"] == "tier_override"]
    assert tiers == ["medium", "high"]
    assert hist[1]["previous_tier"] == "medium"
    evs = audit.events(store, action="tier_override", target=TAX_IDS[2])
    changes = [json.loads(e.detail) for e in evs]   # coded: graph.core.notes tier_changed
    assert [(c["code"], c["before"], c["after"]) for c in changes] == [
        ("tier_changed", "medium", "high"), ("tier_changed", model[TAX_IDS[2]], "medium")]


def test_unknown_taxpayer_is_refused(env: tuple[Store, dict[str, User]]) -> None:
    from graph.core.errors import NotFound
    from workbench import appeals

    store, u = env
    with pytest.raises(NotFound):
        overrides.override_tier(store, u["supervisor"], "000000000000000000", "high", "no such company")
    with pytest.raises(NotFound):
        overrides.assign(store, u["supervisor"], "000000000000000000", "ivan")
    with pytest.raises(NotFound):
        appeals.record_appeal(store, u["investigator"], "000000000000000000", "申诉")


def test_queue_page_filters_on_the_tier_in_force_and_shows_decisions(env: tuple[Store, dict[str, User]]) -> None:
    from workbench.ui import views

    store, u = env
    model = {r["tax_id"]: r["tier"] for r in store.scores().to_pylist()}
    target = next(t for t in TAX_IDS if model.get(t) != "low")
    overrides.override_tier(store, u["supervisor"], target, "low", "核实为正常经营")
    overrides.assign(store, u["supervisor"], target, "ivan")
    effective = overrides.effective_scores(store).set_index("tax_id")["tier"].to_dict()
    for tiers in (["high", "medium"], ["low"], []):
        where = views.queue_query(store, tiers=tiers)
        got = views.queue_page(store, where)
        assert sorted(r.tax_id for r in got) == sorted(t for t, tier in effective.items() if tier in tiers)
        assert store.scores_count(None, where) == len(got)
        assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)
    row = views.queue_page(store, views.queue_query(store, tax_ids=[target]))[0]
    assert (row.tier, row.model_tier, row.override_reason, row.override_by, row.assignee) == (
        "low", model[target], "核实为正常经营", u["supervisor"].username, "ivan")
    everything = views.queue_page(store, views.queue_query(store))
    assert views.queue_page(store, views.queue_query(store), skip=1, limit=2) == everything[1:3]
