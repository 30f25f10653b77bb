"""Cases: open from a ring / taxpayer / alert, attach, notes, validated status moves, assignment,
dispositions as training records, restricted visibility, and the audit of every step."""

from __future__ import annotations

import pytest

from graph.core.errors import InvalidData, NotFound, PermissionDenied
from graph.store import Store
from tests.helpers.g_case_data import TAX_IDS, open_embedded, seed
from workbench import audit, cases
from workbench.auth import User
from workbench.users import create_user


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, User]]:
    store = open_embedded(tmp_path_factory.mktemp("cases") / "ws")
    return store, seed(store)


def test_open_from_ring_copies_members_invoices_and_evidence(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    ring = store.ring("R-1")
    assert ring is not None
    c = cases.open_case_from_ring(store, u["investigator"], "R-1")
    assert c.taxpayers == ring.members and c.invoices == ring.invoice_keys and c.rings == ("R-1",)
    assert c.notes[0]["text"] == ring.evidence and c.status == "open" and c.owner == "ivan"
    stored = store.record(cases.KIND, c.case_id)
    assert stored is not None and stored["taxpayers"] == list(ring.members)  # what the Neo4j backend links


def test_open_from_alert_and_taxpayer(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    c = cases.open_case_from_taxpayer(store, u["supervisor"], TAX_IDS[0], alert=True)
    assert c.taxpayers == (TAX_IDS[0],) and c.source == f"alert:{TAX_IDS[0]}"
    assert "tier high" in c.notes[0]["text"]
    with pytest.raises(NotFound):
        cases.open_case_from_taxpayer(store, u["supervisor"], "000000000000000000")
    with pytest.raises(InvalidData):
        cases.open_case(store, u["supervisor"], "   ")


def test_status_transitions_are_validated(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    inv = u["investigator"]
    c = cases.open_case(store, inv, "转换测试", taxpayers=TAX_IDS[:1])
    with pytest.raises(InvalidData, match="cannot go from open to confirmed"):
        cases.set_status(store, inv, c.case_id, "confirmed")
    c = cases.set_status(store, inv, c.case_id, "investigating", note="started")
    c = cases.set_status(store, inv, c.case_id, "confirmed")
    assert [h.get("to") for h in c.history] == ["open", "investigating", "confirmed"]
    for target in cases.STATUSES:
        with pytest.raises(InvalidData):
            cases.set_status(store, inv, c.case_id, target)  # closed cases stay closed
    with pytest.raises(InvalidData, match="unknown case status"):
        cases.set_status(store, inv, c.case_id, "archived")


def test_notes_attach_and_dispositions(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    inv = u["investigator"]
    c = cases.open_case(store, inv, "处理结论", taxpayers=TAX_IDS[:1])
    c = cases.attach(store, inv, c.case_id, taxpayers=[TAX_IDS[1], TAX_IDS[0]], invoices=["k1"])
    assert c.taxpayers == TAX_IDS[:2] and c.invoices == ("k1",)
    c = cases.add_note(store, inv, c.case_id, "电话核实：法人不知情")
    assert c.notes[-1]["text"] == "电话核实：法人不知情" and c.notes[-1]["by"] == "ivan"
    with pytest.raises(InvalidData):
        cases.record_disposition(store, inv, c.case_id, TAX_IDS[2], "confirmed")  # not in the case
    with pytest.raises(InvalidData):
        cases.record_disposition(store, inv, c.case_id, TAX_IDS[0], "maybe")
    cases.record_disposition(store, inv, c.case_id, TAX_IDS[0], "confirmed")
    cases.record_disposition(store, inv, c.case_id, TAX_IDS[1], "false_positive")
    cases.record_disposition(store, inv, c.case_id, TAX_IDS[0], "false_positive")  # a later decision replaces
    got = {d["tax_id"]: d for d in cases.dispositions(store, c.case_id)}
    assert {t: d["label"] for t, d in got.items()} == {TAX_IDS[0]: "false_positive", TAX_IDS[1]: "false_positive"}
    training = [r for r in store.records("disposition") if r["case_id"] == c.case_id]
    assert all({"tax_id", "label", "case_id", "by", "at"} <= set(r) for r in training)


def test_restricted_cases_visible_to_owner_assignee_supervisor_analyst(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    other = create_user(store, "ivy", "correct horse 2", ["investigator"])
    c = cases.open_case(store, u["investigator"], "受限案件", taxpayers=TAX_IDS[:1])
    with pytest.raises(PermissionDenied):
        cases.get_case(store, other, c.case_id)
    with pytest.raises(PermissionDenied):
        cases.add_note(store, other, c.case_id, "snooping")
    assert c.case_id not in [x.case_id for x in cases.list_cases(store, other)]
    for role in ("supervisor", "analyst"):
        assert cases.get_case(store, u[role], c.case_id).case_id == c.case_id
    cases.assign_case(store, u["supervisor"], c.case_id, "ivy")
    assert cases.get_case(store, other, c.case_id).assignee == "ivy"
    assert c.case_id in [x.case_id for x in cases.list_cases(store, other)]
    with pytest.raises(InvalidData):
        cases.assign_case(store, u["supervisor"], c.case_id, "ana")  # an analyst cannot be assigned


def test_case_steps_are_audited(env: tuple[Store, dict[str, User]]) -> None:
    store, u = env
    c = cases.open_case(store, u["investigator"], "审计", taxpayers=TAX_IDS[:1])
    cases.get_case(store, u["analyst"], c.case_id)
    cases.set_status(store, u["investigator"], c.case_id, "investigating")
    cases.record_disposition(store, u["investigator"], c.case_id, TAX_IDS[0], "confirmed")
    evs = [(e.actor, e.action) for e in audit.events(store, target=f"case:{c.case_id}")]
    assert evs == [("ivan", "disposition"), ("ivan", "case_status"), ("ana", "case_read"), ("ivan", "case_open")]
    assert audit.verify(store).ok


def test_cli_case_list_respects_restriction(env: tuple[Store, dict[str, User]]) -> None:
    from click.testing import CliRunner

    from tests.helpers.g_case_data import PASSWORD
    from workbench.cli import cli

    store, u = env
    mine = cases.open_case(store, u["investigator"], "命令行可见", taxpayers=TAX_IDS[:1])
    hidden = cases.open_case(store, u["supervisor"], "命令行不可见", taxpayers=TAX_IDS[:1])
    r = CliRunner().invoke(cli, ["case", "list", "--user", "ivan", "--password-stdin", "--store", store.uri],
                           input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert mine.case_id in r.output and hidden.case_id not in r.output
    r = CliRunner().invoke(cli, ["case", "list", "--user", "ivan", "--password-stdin", "--store", store.uri],
                           input="wrong\n")
    assert r.exit_code != 0


def test_dispositions_are_what_the_supervised_model_reads(env: tuple[Store, dict[str, User]]) -> None:
    from workbench.detect import disposition_labels

    store, u = env
    c = cases.open_case(store, u["investigator"], "训练标签", taxpayers=TAX_IDS)
    cases.record_disposition(store, u["investigator"], c.case_id, TAX_IDS[0], "confirmed")
    cases.record_disposition(store, u["investigator"], c.case_id, TAX_IDS[1], "false_positive")
    labels = disposition_labels(store.records(cases.DISPOSITION_KIND))
    assert labels[TAX_IDS[0]] == 1 and labels[TAX_IDS[1]] == 0
