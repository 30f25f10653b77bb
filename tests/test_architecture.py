"""Import boundaries (docs/architecture.md): each package imports only what its place allows.

Every import statement counts, including those inside functions. Relative imports are not used.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.helpers.paths import SOURCES

ROOT = SOURCES

#: third-party packages the algorithms may use (tables, graphs, numerics, models)
ALGORITHM_LIBS = {"numpy", "pandas", "pyarrow", "igraph", "leidenalg", "networkx", "numba", "sklearn", "scipy",
                  "threadpoolctl"}   # threadpoolctl: one BLAS/OpenMP thread for deterministic model fits

#: (file, imported module) pairs allowed for now, with the reason; keep this short
EXCEPTIONS: dict[tuple[str, str], str] = {}


def imports(package: str) -> list[tuple[str, str]]:
    """(file relative to the root, imported module) for every import in ``package``."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if isinstance(node, ast.Import):
                out += [(rel, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{rel}: relative import"
                assert node.module is not None
                out.append((rel, node.module))
    return out


def under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(package: str, ok: set[str] | None = None, banned: tuple[str, ...] = ()) -> list[str]:
    """Imports in ``package`` outside the stdlib + ``ok`` prefixes (when given) or under ``banned``."""
    bad = []
    for rel, mod in imports(package):
        if (rel, mod) in EXCEPTIONS:
            continue
        top = mod.split(".")[0]
        if under(mod, *banned) or (ok is not None and top not in sys.stdlib_module_names and not under(mod, *ok)):
            bad.append(f"{rel} imports {mod}")
    return bad


def test_algorithms_import_only_the_core_and_numeric_libraries() -> None:
    assert violations("algorithms", ok={"algorithms", "graph.core", *ALGORITHM_LIBS}) == []


def test_the_core_imports_nothing_else_of_the_project() -> None:
    assert violations("graph/core", ok={"graph.core", "pyarrow"}) == []


def test_graph_never_imports_loaders_algorithms_or_the_workbench() -> None:
    assert violations("graph", banned=("workbench", "loaders", "algorithms")) == []


def test_loaders_never_import_algorithms_or_the_workbench() -> None:
    assert violations("loaders", banned=("workbench", "algorithms")) == []


def test_services_never_import_the_cli_or_the_ui() -> None:
    services = [f.name for f in (ROOT / "workbench").glob("*.py")]
    bad = [v for v in violations("workbench", banned=("workbench.cli", "workbench.ui"))
           if v.split(" ")[0].removeprefix("workbench/") in services]
    assert bad == []


def test_the_front_ends_never_import_each_other() -> None:
    assert violations("workbench/ui", banned=("workbench.cli",)) == []
    assert violations("workbench/cli", banned=("workbench.ui",)) == []
    assert violations("workbench/api", banned=("workbench.cli", "workbench.ui")) == []


@pytest.mark.parametrize("package", ["algorithms", "graph", "loaders", "workbench"])
def test_the_check_sees_imports(package: str) -> None:
    """The walker finds imports at all (a broken walker would pass every boundary)."""
    assert any(under(mod, "graph.core") for _, mod in imports(package))


def test_a_forbidden_import_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "bad.py").write_text("def f():\n    from graph.store import Store\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("algorithms", ok={"algorithms", "graph.core"}) == ["algorithms/bad.py imports graph.store"]


def test_pyspark_is_imported_only_by_the_spark_engine() -> None:
    """PySpark is an extra: only ``workbench/spark_engine`` (and benchmarks, tests) may import it."""
    bad = [f"{rel} imports {mod}" for package in ("algorithms", "graph", "loaders", "workbench")
           for rel, mod in imports(package)
           if under(mod, "pyspark", "py4j") and not rel.startswith("workbench/spark_engine/")]
    assert bad == []
    assert any(under(mod, "pyspark") for _, mod in imports("workbench/spark_engine"))
