"""Quarantine: every rejected row with its original values, record number, rule ids and reasons.

Written incrementally as ``quarantine.csv`` (formula-safe, UTF-8 with BOM so Excel shows Chinese) and,
on close, ``quarantine.parquet`` with the exact original text. Warnings go to ``warnings.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loaders.safe_csv import is_text, neutralise, neutralise_texts

FIXED = ("record", "rules", "reasons")


class QuarantineWriter:
    """Append rejected rows as they are found; ``rows`` counts them.

    Parameters
    ----------
    path
        The CSV file to write (the Parquet copy goes beside it).
    columns
        The source file's headers, in order; rows are written with these original values.
    """

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = list(columns) + (["raw_text"] if "raw_text" not in columns else [])
        self.rows = 0
        self._tables: list[pa.Table] = []
        self._file: IO[str] | None = None
        self._csv: csv.Writer | None = None  # type: ignore[name-defined]

    def _open(self) -> csv.Writer:  # type: ignore[name-defined]
        if self._csv is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow([neutralise(c) for c in (*FIXED, *self.columns)])
        return self._csv

    def add(self, source: pa.Table, rows: np.ndarray, records: np.ndarray, rules: list[str],
            reasons: list[str]) -> None:
        """Write ``source`` rows ``rows`` (batch indices) with their 1-based ``records`` numbers and reasons."""
        if len(rows) == 0:
            return
        sub = source.take(pa.array(rows))
        n = len(rows)
        shown: list[list[Any]] = []          # the CSV's cells (formula-safe)
        exact: dict[str, pa.Array] = {}      # the Parquet copy's cells (the original text)
        for c in self.columns:
            if c not in sub.column_names:
                shown.append([""] * n)
                exact[c] = pa.array([""] * n, pa.string())
            elif is_text(sub.column(c)):     # whole columns at once: a big quarantine costs no per-cell Python
                text = sub.column(c).cast(pa.string())
                shown.append(pc.fill_null(neutralise_texts(text), "").to_pylist())
                exact[c] = pc.fill_null(text, "").combine_chunks()
            else:
                values = sub.column(c).to_pylist()
                shown.append([neutralise("" if v is None else v) for v in values])
                exact[c] = pa.array([("" if v is None else str(v)) for v in values], pa.string())
        safe = {r: neutralise(r) for r in set(reasons)}   # reasons repeat: each distinct text made safe once
        self._open().writerows(zip(np.asarray(records).tolist(), rules, [safe[r] for r in reasons], *shown,
                                   strict=True))
        self._tables.append(pa.table({
            "record": pa.array(records, pa.int64()), "rules": pa.array(rules, pa.string()),
            "reasons": pa.array(reasons, pa.string()), **exact,
        }))
        self.rows += n

    def add_text(self, records: list[int], texts: list[str], rule: str, reason: str) -> None:
        """Rows that could not be split into cells: kept whole in ``raw_text``."""
        if not records:
            return
        source = pa.table({"raw_text": pa.array(texts, pa.string())})
        self.add(source, np.arange(len(records)), np.array(records), [rule] * len(records), [reason] * len(records))

    def close(self) -> Path | None:
        """Finish the files; returns the CSV path, or None when nothing was rejected."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._tables:
            return None
        pq.write_table(pa.concat_tables(self._tables), self.path.with_suffix(".parquet"))
        self._tables = []
        return self.path

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class WarningWriter:
    """``warnings.csv``: record, key, rule, field, reason for rows loaded with a warning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._file: IO[str] | None = None
        self._csv: csv.Writer | None = None  # type: ignore[name-defined]

    def add(self, records: list[int], keys: list[str], rule: str, fld: str, reason: str) -> None:
        if not records:
            return
        if self._csv is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._file)
            self._csv.writerow(["record", "key", "rule", "field", "reason"])
        for r, k in zip(records, keys, strict=True):
            self._csv.writerow([r, neutralise(k), rule, fld, neutralise(reason)])
        self.rows += len(records)

    def close(self) -> Path | None:
        if self._file is not None:
            self._file.close()
            self._file = None
            return self.path
        return None
