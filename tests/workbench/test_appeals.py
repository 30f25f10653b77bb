"""Appeals (反馈处理): every step timestamped and kept; overdue appeals surface to supervisors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from graph.core.errors import InvalidData, PermissionDenied
from graph.store import Store
from tests.helpers.g_case_data import TAX_IDS, open_embedded, seed
from workbench import appeals, audit
from workbench.auth import User


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, User]]:
    store = open_embedded(tmp_path_factory.mktemp("appeals") / "ws")
    return store, seed(store)


def test_full_appeal_cycle_keeps_every_step(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    a = appeals.record_appeal(store, u["investigator"], TAX_IDS[0], "我司业务真实，有合同和物流单据", against="tier")
    assert a.status == "received" and a.due_at - a.received_at == timedelta(days=15)
    a = appeals.start_review(store, u["supervisor"], a.appeal_id, "调取物流记录")
    a = appeals.answer_appeal(store, u["supervisor"], a.appeal_id, "物流单据与发票不符，维持原等级", outcome="rejected")
    a = appeals.close_appeal(store, u["supervisor"], a.appeal_id)
    again = appeals.get_appeal(store, u["investigator"], a.appeal_id)
    assert [s["action"] for s in again.steps] == ["received", "under_review", "answered", "closed"]
    assert all(s["at"] and s["by"] for s in again.steps)
    assert again.outcome == "rejected" and again.answer == "物流单据与发票不符，维持原等级"
    with pytest.raises(InvalidData):
        appeals.start_review(store, u["supervisor"], a.appeal_id)  # closed
    acts = [e.action for e in audit.events(store, target=f"appeal:{a.appeal_id}")]
    assert acts == ["appeal_closed", "appeal_answered", "appeal_under_review", "appeal_record"]


def test_overdue_uses_setting(env: tuple[Store, dict[str, User]], monkeypatch: pytest.MonkeyPatch) -> None:
    store, u = env
    monkeypatch.setenv("FAPIAO_APPEAL_DAYS", "5")
    old = appeals.record_appeal(store, u["investigator"], TAX_IDS[1], "逾期测试",
                                received_at=audit.now() - timedelta(days=6))
    fresh = appeals.record_appeal(store, u["investigator"], TAX_IDS[2], "未逾期", received_at=audit.now() - timedelta(days=4))
    late = [a.appeal_id for a in appeals.overdue_appeals(store, u["supervisor"])]
    assert old.appeal_id in late and fresh.appeal_id not in late
    appeals.answer_appeal(store, u["supervisor"], old.appeal_id, "已答复", outcome="upheld")
    assert old.appeal_id not in [a.appeal_id for a in appeals.overdue_appeals(store, u["supervisor"])]
    with pytest.raises(PermissionDenied):
        appeals.overdue_appeals(store, u["investigator"])


def test_bad_appeals_refused(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    with pytest.raises(InvalidData):
        appeals.record_appeal(store, u["investigator"], TAX_IDS[0], "  ")
    with pytest.raises(InvalidData):
        appeals.record_appeal(store, u["investigator"], TAX_IDS[0], "x", against="weather")
    a = appeals.record_appeal(store, u["investigator"], TAX_IDS[0], "x")
    with pytest.raises(InvalidData):
        appeals.answer_appeal(store, u["supervisor"], a.appeal_id, "ok", outcome="maybe")
