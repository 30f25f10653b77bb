"""``fapiao generate`` as a user runs it: files, summary, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv

FAPIAO = str(Path(sys.executable).with_name("fapiao"))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FAPIAO, "generate", *args], capture_output=True, text=True, timeout=120)


def test_generate_csv_with_ring_counts(tmp_path: Path) -> None:
    res = _run("--taxpayer-count", "400", "--invoices", "5000", "--seed", "2", "--format", "csv", "--noise", "0.01",
               "--rings", "6", "--rings", "shell=3", "--no-progress", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    inv = pacsv.read_csv(tmp_path / "invoices.csv")
    noise = pacsv.read_csv(tmp_path / "truth" / "noise.csv")
    assert inv.num_rows == 5000 + noise.num_rows
    rings = pacsv.read_csv(tmp_path / "truth" / "rings.csv").column("typology").to_pylist()
    assert rings.count("cycle") == 6 and rings.count("shell") == 3
    assert "rings: cycle" in res.stdout and f"{noise.num_rows:,}" in res.stdout


def test_errors_are_one_line(tmp_path: Path) -> None:
    for args, text in ((["--rings", "cycle=x"], "TYPOLOGY=COUNT"), (["--rings", "ghost=2"], "unknown typology"),
                       (["--end", "2999-01-01"], "future"), (["--start", "01/02/2022"], "not a date")):
        res = _run("--taxpayers", "100", "--invoices", "1000", "--out", str(tmp_path), *args)
        assert res.returncode == 1
        assert text in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_help_reads_like_documentation() -> None:
    res = _run("--help")
    assert res.returncode == 0
    for word in ("truth/rings.csv", "--noise", "--rings", "Example"):
        assert word in res.stdout


def test_json_summary_matches_the_files(tmp_path: Path) -> None:
    import json

    res = _run("--taxpayer-count", "300", "--invoices", "3000", "--rings", "cycle=4", "--no-progress", "--json",
               "--format", "csv", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["invoices"] + summary["noise_rows"] == pacsv.read_csv(tmp_path / "invoices.csv").num_rows
    assert summary["rings"]["cycle"] == 4 and summary["taxpayers"] == 300
