"""A Spark session for the Spark engine: master URL, the defaults it needs, a clear error without PySpark."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from graph.core.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
#: what the engine sets unless the caller's ``conf`` says otherwise
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.session.timeZone": "UTC",            # timestamps travel as UTC instants; the kernel uses epoch seconds
    "spark.sql.shuffle.partitions": "16",           # a time window × component per group: few, large groups
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.python.worker.reuse": "true",            # keeps numba's loaded kernel between tasks
}
INSTALL_HINT = "pip install 'fapiao-workbench[spark]'"


def require_pyspark() -> None:
    """Raise :class:`ConfigError` naming the ``spark`` extra when PySpark is not installed, or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the Spark engine needs PySpark: {INSTALL_HINT} (the `spark` extra), "
                          "and Java 17 or newer") from e


def spark_session(master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None,
                  app_name: str = "fapiao-detect") -> SparkSession:
    """Start or join the Spark session for ``master`` (``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://…``).

    Python workers run this interpreter (``PYSPARK_PYTHON`` unless set): on a cluster every executor needs
    the same Python with this package installed (``pip install 'fapiao-workbench[spark]'`` in the image, or
    ``--py-files``). A master that cannot be reached raises :class:`ConfigError`."""
    require_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in (DEFAULT_CONF | dict(conf or {})).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as e:          # py4j / JVM start-up errors carry no common type
        text = str(e)
        hint = ("the master did not answer (Spark gave up after its connection retries): check the URL, that the "
                "master runs and that this machine can reach it" if any(
                    w in text for w in ("stopped SparkContext", "unresponsive", "Connection refused", "Failed to connect"))
                else text.splitlines()[0][:300] if text else type(e).__name__)
        raise ConfigError(f"could not start Spark with master {master!r}: {hint}") from e
    spark.sparkContext.setLogLevel("WARN")
    return spark


#: the Spark setting that caps what one job may send back to the driver
RESULT_CAP = "spark.driver.maxResultSize"


def result_cap_error(error: BaseException) -> ConfigError | None:
    """A clear error (Chinese first) when ``error`` is Spark refusing a job whose results exceed
    ``spark.driver.maxResultSize``, naming the setting to raise; None for any other error."""
    text = str(error)
    if RESULT_CAP not in text and "maxResultSize" not in text:
        return None
    detail = next((line.strip() for line in text.splitlines() if "maxResultSize" in line), "")[:300]
    return ConfigError(
        f"Spark 任务返回驱动端的结果超过上限 {RESULT_CAP}：请调大该设置（如 --spark-conf {RESULT_CAP}=4g，"
        "并相应加大 spark.driver.memory），本次运行未保存任何结果。"
        f" / Spark's results for the driver exceeded {RESULT_CAP}: raise it (e.g. --spark-conf {RESULT_CAP}=4g, "
        f"with spark.driver.memory to match); nothing was stored. ({detail})")
