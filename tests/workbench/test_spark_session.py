"""Without PySpark, the Spark engine says which extra to install (fast: no Spark is started)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from graph.core.errors import ConfigError
from workbench.cli.detect import _conf, detect
from workbench.spark_engine.session import require_pyspark


def test_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)            # import pyspark → ImportError
    with pytest.raises(ConfigError, match=r"pip install 'fapiao-workbench\[spark\]'"):
        require_pyspark()


def test_spark_conf_pairs(tmp_path: Path) -> None:
    assert _conf(("spark.executor.memory=8g", " a.b = c=d ")) == {"spark.executor.memory": "8g", "a.b": "c=d"}
    result = CliRunner().invoke(detect, ["--engine", "spark", "--spark-conf", "novalue", "--store", f"embedded:{tmp_path / 'ws'}"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
