"""Issue 19 small defects: a recorded appeal is listed at once; `fapiao audit verify` names the store it
checked and says when that store holds no events (after `make demo` it checked the empty default)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers.wb_app import open_page
from tests.helpers.wb_data import Demo


def test_a_recorded_appeal_is_listed_at_once(fresh_env: Demo) -> None:
    at = open_page(fresh_env, "investigator", "appeals")
    assert any("暂无申诉" in i.value for i in at.info)
    next(t for t in at.text_input if t.label == "纳税人税号").input(fresh_env.ring.members[0])
    next(t for t in at.text_area if t.label == "申诉内容").input("我司交易真实，有合同与物流单据。")
    next(b for b in at.button if b.label == "登记").click().run()
    assert not at.exception
    assert not any("暂无申诉" in i.value for i in at.info)          # was: until the next click
    assert at.dataframe and fresh_env.ring.members[0] in at.dataframe[0].value.iloc[:, 1].tolist()
    assert any("已登记" in s.value for s in at.success)


def test_audit_verify_names_the_store_and_warns_when_it_is_empty(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import cli

    monkeypatch.setenv("FAPIAO_STORE", f"embedded:{tmp_path / 'workspace'}")
    r = CliRunner().invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    assert f"(store embedded:{tmp_path / 'workspace'})" in r.output
    assert "holds no audit events" in r.output and "--store" in r.output
