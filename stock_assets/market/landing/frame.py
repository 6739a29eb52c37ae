"""The typed quotes frame both the spec and the fast tiers build, so dtypes agree."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

STREAM_COLUMNS = (
    "symbol", "ts", "price", "volume", "change", "change_pct", "name", "source", "record_no",
)  # fmt: skip

# -- small helpers ------------------------------------------------------------------------


def quotes_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows in STREAM_COLUMNS order -> the typed frame (ts held as epoch microseconds)."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(STREAM_COLUMNS)
    symbol, ts, price, volume, change, change_pct, name, source, record_no = cols
    return build_frame(
        symbol,
        np.array(ts, dtype=np.int64),
        price,
        pd.array(volume, dtype="Int64"),
        [np.nan if v is None else v for v in change],
        [np.nan if v is None else v for v in change_pct],
        name,
        source,
        record_no,
    )


def build_frame(
    symbol: Sequence[object],
    ts: np.ndarray,  # epoch microseconds
    price: Sequence[float],
    volume: pd.api.extensions.ExtensionArray,  # Int64
    change: Sequence[float],  # NaN when missing
    change_pct: Sequence[float],
    name: Sequence[object],
    source: Sequence[object],
    record_no: Sequence[int],
) -> pd.DataFrame:
    """The quotes frame from typed columns; both paths build theirs here, so dtypes agree."""
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbol, dtype=object),
            "ts": pd.Series(ts.astype("datetime64[us]")),
            "price": pd.Series(price, dtype="float64"),
            "volume": pd.Series(volume),
            "change": pd.Series(change, dtype="float64"),
            "change_pct": pd.Series(change_pct, dtype="float64"),
            "name": pd.Series(name, dtype=object),
            "source": pd.Series(source, dtype=object),
            "record_no": pd.Series(record_no, dtype="int64"),
        },
        columns=list(STREAM_COLUMNS),
        copy=False,  # the series are new: consolidating them would only copy
    )


def in_record_order(fast: pd.DataFrame | None, slow: pd.DataFrame) -> pd.DataFrame:
    """Quotes from both paths in record order (each frame is in record order already)."""
    if fast is None or fast.empty:
        return slow
    if slow.empty:
        return fast
    both = pd.concat([fast, slow], ignore_index=True)
    return both.sort_values("record_no", kind="stable", ignore_index=True)
