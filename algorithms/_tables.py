"""Small helpers shared by the algorithms: table conversion and time arithmetic (no storage)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

TZ = "Asia/Shanghai"
DAY = 86_400


def invoice_frame(invoices: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """A pandas view of an invoice table (``graph.core.schema.INVOICES`` columns, extra columns kept)."""
    if isinstance(invoices, pa.Table):
        out: pd.DataFrame = invoices.to_pandas()
        return out
    return invoices


def frame(table: pa.Table | pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """``table`` as a DataFrame; an empty frame with ``columns`` when None."""
    if table is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return table.to_pandas() if isinstance(table, pa.Table) else table


def localized(col: pd.Series) -> pd.Series:
    """``col`` as timezone-aware datetimes (naive values are taken as Asia/Shanghai)."""
    s = pd.to_datetime(col)
    if s.dt.tz is None:
        s = s.dt.tz_localize(TZ)
    return s


def epoch_seconds(col: pd.Series) -> npt.NDArray[np.int64]:
    """Seconds since the epoch (UTC) of a datetime column."""
    s = localized(col).dt.tz_convert("UTC").dt.tz_localize(None)
    return np.asarray(s.to_numpy().astype("datetime64[s]").astype(np.int64), dtype=np.int64)
