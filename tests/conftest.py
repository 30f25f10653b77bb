"""Shared fixtures. The real Neo4j is started once per test run (session scope)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _signing_key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests sign with a throw-away installation key, never the user's own."""
    old = os.environ.get("FAPIAO_KEY_DIR")
    os.environ["FAPIAO_KEY_DIR"] = str(tmp_path_factory.mktemp("keys") / "keys")
    # scratch that helpers create outside a test's tmp_path lives under pytest's base folder too (rotated by pytest)
    os.environ.setdefault("FAPIAO_TEST_TMP", str(tmp_path_factory.getbasetemp()))
    yield
    if old is None:
        os.environ.pop("FAPIAO_KEY_DIR", None)
    else:
        os.environ["FAPIAO_KEY_DIR"] = old


def _required(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="session")
def neo4j_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bolt URI of a real, freshly started local Neo4j Community 5.26 (auth off).

    Skips loudly when Java or Maven are missing, unless FAPIAO_REQUIRE_NEO4J=1 (CI), where it fails.
    """
    from graph import local_neo4j

    problem = local_neo4j.missing_prerequisites()
    if problem:
        msg = f"REAL NEO4J UNAVAILABLE - Neo4j tests not run: {problem}"
        if _required("FAPIAO_REQUIRE_NEO4J"):
            pytest.fail(msg + " (FAPIAO_REQUIRE_NEO4J=1)")
        pytest.skip(msg)
    with local_neo4j.running(tmp_path_factory.mktemp("neo4j-data")) as server:
        yield server.uri


#: files left out of the fast lane (`make test-fast`: -m "not slow and not neo4j and not browser"): Streamlit
#: AppTest page runs, a real HTTP server, the detection pipeline on generated data, numba-heavy pattern searches
SLOW_FILES = frozenset({
    "tests/algorithms/test_patterns.py", "tests/loaders/test_generator.py", "tests/workbench/test_api.py",
    "tests/workbench/test_api_schema.py", "tests/workbench/test_detect.py", "tests/e2e/test_demo_cli.py",
    "tests/loaders/test_generator_cli.py", "tests/graph/test_embedded_sharing.py", "tests/graph/test_embedded_crash.py",
    "tests/workbench/test_sessions.py", "tests/workbench/test_exports.py", "tests/workbench/test_cli_audited.py",
    "tests/workbench/test_spark_engine.py",
})
#: single tests over a minute in a measured fast-lane run (on a loaded machine)
SLOW_TESTS = frozenset({"tests/algorithms/test_risk.py::test_supervised_model_once_dispositions_exist"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Markers in one place: ``slow`` for the files above, AppTest page tests and the role matrix's page
    runs; ``neo4j`` for every test that asks for a real Neo4j (``neo4j_uri``), marked or not."""
    for item in items:
        rel = item.path.resolve().relative_to(ROOT).as_posix()
        if (rel in SLOW_FILES or f"{rel}::{item.name}" in SLOW_TESTS or rel.startswith("tests/workbench/test_page_")
                or (rel == "tests/workbench/test_roles.py" and "page" in item.name)):
            item.add_marker(pytest.mark.slow)
        if "neo4j_uri" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.neo4j)


_EXIT: dict[str, int] = {}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT["status"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter finalisation once pytest has reported. A native library's thread occasionally
    aborts the process while Python tears down (glibc "FATAL: exception not rethrown", exit 134, seen after
    "507 passed" in wheel-check and after full runs; not reproduced on demand), which would turn a green run red."""
    import sys

    if "status" in _EXIT and os.environ.get("FAPIAO_TEST_CLEAN_EXIT", "1") != "0":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT["status"])
