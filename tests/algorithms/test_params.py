"""DetectionParams: one definition feeds the CLI, the run fingerprint and the docs table."""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path

import pytest
from click.testing import CliRunner

from algorithms.params import DetectionParams, markdown_table, specs
from graph.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.checkout
def test_docs_table_is_current() -> None:
    tool = runpy.run_path(str(ROOT / "tools" / "params_table.py"))
    doc = ROOT / "docs" / "detection.md"
    assert tool["render"](doc.read_text(encoding="utf-8")) == doc.read_text(encoding="utf-8"), \
        "docs/detection.md is stale: run python tools/params_table.py"
    for _, s in specs():
        assert f"`{s.flag}`" in markdown_table()


def test_bounds_and_types_are_checked() -> None:
    p = DetectionParams()
    for f, s in specs():
        if s.lo is not None:
            with pytest.raises(ConfigError, match=s.flag):
                p.replace(**{f.name: s.lo - 1})
        if s.hi is not None:
            with pytest.raises(ConfigError, match=s.flag):
                p.replace(**{f.name: s.hi + 1})
        with pytest.raises(ConfigError, match=s.flag):
            p.replace(**{f.name: "x"})
        if not s.off:
            with pytest.raises(ConfigError, match=s.flag):
                p.replace(**{f.name: None})
    with pytest.raises(ConfigError, match="--window"):
        p.replace(window_days=2.5)
    with pytest.raises(ConfigError, match="unknown"):
        p.replace(windw_days=3)
    assert p.replace(max_drift=None).max_drift is None


def test_cli_options_come_from_the_dataclass() -> None:
    from workbench.cli.detect import detect

    text = CliRunner().invoke(detect, ["--help"], terminal_width=200).output
    for f, s in specs():
        assert s.flag in text, f.name
    bad = CliRunner().invoke(detect, ["--window", "0"])
    assert bad.exit_code == 2 and "--window" in bad.output
    bad = CliRunner().invoke(detect, ["--max-len", "off"])
    assert bad.exit_code == 2


def test_as_dict_names_every_field_and_changes_with_values() -> None:
    d = DetectionParams().as_dict()
    assert list(d) == [f.name for f in dataclasses.fields(DetectionParams)]
    assert DetectionParams(seed=1).as_dict() != d
