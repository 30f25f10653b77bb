"""The lock files `make` and CI install from, and the check that they still match pyproject.toml.

    python tools/lock/lock.py refresh   # re-resolve (uv pip compile; keeps current pins unless --upgrade)
    python tools/lock/lock.py refresh --upgrade
    python tools/lock/lock.py check     # every direct requirement is pinned in both locks and satisfied

requirements.txt      the test environment (every extra but bench), universal (Linux, macOS, Windows), with hashes
requirements-min.txt  the lowest allowed version of each direct dependency (`make test-min`), Linux, Python 3.11
"""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
#: Every extra but `bench` (its snapml is proprietary and only benchmarks use it) goes into the test environment.
EXTRAS = tuple(e for e in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
               .get("optional-dependencies", {}) if e != "bench")
LOCKS = {"requirements.txt": ["--universal", "--generate-hashes"],
         "requirements-min.txt": ["--resolution", "lowest-direct", "--python-platform", "x86_64-manylinux_2_28"]}


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in EXTRAS:
        reqs += [Requirement(r) for r in project.get("optional-dependencies", {}).get(extra, [])]
    return reqs


def pins(lock: Path) -> dict[str, str]:
    out = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, version = line.split(";")[0].split("==")
            out[canonicalize_name(name.strip())] = version.strip().rstrip(" \\")
    return out


def check() -> int:
    problems = []
    for name in LOCKS:
        pinned = pins(HERE / name)
        for req in direct_requirements():
            version = pinned.get(canonicalize_name(req.name))
            if version is None:
                problems.append(f"{name}: {req.name} is not pinned (run `make lock`)")
            elif not req.specifier.contains(version, prereleases=True):
                problems.append(f"{name}: {req.name}=={version} does not satisfy '{req.specifier}' (run `make lock`)")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"lock check: {len(problems)} problem(s)")
    return 1 if problems else 0


def refresh(upgrade: bool) -> int:
    extras = [a for e in EXTRAS for a in ("--extra", e)]
    for name, flags in LOCKS.items():
        cmd = [sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", *extras, "--python-version", "3.11",
               "--no-header", "-q", *flags, "-o", str(HERE / name)] + (["--upgrade"] if upgrade else [])
        subprocess.run(cmd, cwd=ROOT, check=True)
    return check()


if __name__ == "__main__":
    if sys.argv[1:2] == ["refresh"]:
        sys.exit(refresh("--upgrade" in sys.argv))
    if sys.argv[1:2] == ["check"]:
        sys.exit(check())
    sys.exit(__doc__)
