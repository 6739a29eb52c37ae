"""Landing quotes -> stream history rows and the latest snapshot (Dagster-free).

A micro-batch holds ~10^5 quotes over one or two days, so everything here is column-wise:
a Python object is made per distinct day, never per quote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.landing import LandingParse, RecordReject
from stock_assets.market.schemas import LATEST_SNAPSHOT, STREAM_HISTORY, column_array, conform


@dataclass(frozen=True)
class StreamBatch:
    rows: pd.DataFrame  # STREAM_HISTORY rows, unique on (symbol, ts)
    rejects: list[tuple[str, RecordReject]]  # (object key, reject)
    duplicates: int  # rows dropped because an earlier row had the same (symbol, ts)


def _new_york_days(ts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """For naive UTC timestamps: each one's index into the distinct New York dates, and
    those dates (datetime.date objects)."""
    local = ts.dt.tz_localize("UTC").dt.tz_convert(calendar.MARKET_TIMEZONE).dt.tz_localize(None)
    day_numbers = local.to_numpy().astype("datetime64[D]").astype(np.int64)
    codes, distinct = pd.factorize(day_numbers)
    return codes, distinct.astype("datetime64[D]").astype(object)


def quote_trading_days(quotes: pd.DataFrame) -> pd.Series:
    """The New York calendar date of each quote (UTC naive timestamps)."""
    codes, days = _new_york_days(quotes["ts"])
    return pd.Series(days[codes], index=quotes.index, dtype=object, name="trade_date")


def stream_batch(parses: Sequence[LandingParse], ingested_at: dt.datetime) -> StreamBatch:
    """Rows for a batch of parsed objects, in arrival order; the first (symbol, ts) wins.

    A quote dated on a day the NYSE is closed has no partition, so it is rejected with
    that reason instead of being filed under a neighbouring day. Rejects are listed object
    by object: an object's own rejects, then its quotes on closed days.
    """
    rejects = [(n, p.key, r) for n, p in enumerate(parses) for r in p.rejects]
    filled = [n for n, p in enumerate(parses) if not p.quotes.empty]
    if not filled:
        return StreamBatch(STREAM_HISTORY.empty_frame(), [(k, r) for _, k, r in rejects], 0)
    quotes = pd.concat([parses[n].quotes for n in filled], ignore_index=True, copy=False)
    owner = np.repeat(filled, [len(parses[n].quotes) for n in filled])  # parse of each quote
    codes, days = _new_york_days(quotes["ts"])

    closed_reasons = [calendar.non_session_reason(day) for day in days]
    closed = np.array([reason is not None for reason in closed_reasons])[codes]
    shut = np.flatnonzero(closed)
    shut_quotes = quotes.iloc[shut]  # one take, not a row object per rejected quote
    for n, code, symbol, ts, price, record_no in zip(
        owner[shut].tolist(),
        codes[shut].tolist(),
        shut_quotes["symbol"],
        shut_quotes["ts"],
        shut_quotes["price"],
        shut_quotes["record_no"].tolist(),
        strict=True,
    ):
        raw = f"{symbol} {ts.isoformat()} {price}"
        reason = f"quote {closed_reasons[code]}"
        rejects.append((n, parses[n].key, RecordReject(record_no, reason, raw)))
    rejects.sort(key=lambda item: item[0])  # stable: keeps each object's own order

    # A (symbol, ts) lies on one day, so duplicates share their day's fate: mark them on all.
    repeated = quotes.duplicated(["symbol", "ts"], keep="first").to_numpy()
    take = np.flatnonzero(~closed & ~repeated)
    columns = {name: column_array(quotes[name])[take] for name in quotes.columns}
    keys = np.array([p.key for p in parses], dtype=object)
    rows = pd.DataFrame(
        {
            **columns,
            "object_key": keys[owner[take]],
            "ingested_at": np.full(len(take), np.datetime64(_naive_utc(ingested_at), "us")),
            "trade_date": days[codes[take]],
        },
        copy=False,  # new arrays; conform copies once
    )
    rejected = [(k, r) for _, k, r in rejects]
    duplicates = int((~closed & repeated).sum())
    return StreamBatch(conform(rows, STREAM_HISTORY), rejected, duplicates)


# Fields a quote may omit. Its snapshot row keeps their last known value: the name from any
# earlier quote, the session's figures (cumulative volume, change since the previous close)
# only from a quote of the same session, since yesterday's are wrong today.
KEPT_FIELDS = ("name",)
SESSION_FIELDS = ("volume", "change", "change_pct")
SIGNAL_FIELDS = ("last_signal", "last_signal_at", "last_signal_reason")


def newest_per_symbol(history: pd.DataFrame, updated_at: dt.datetime) -> pd.DataFrame:
    """One row per symbol: the quote with the greatest ts (ties: the later row), the fields
    it omits carried from the symbol's earlier quotes in `history`; no signal columns yet."""
    if history.empty:
        return LATEST_SNAPSHOT.empty_frame()
    newest = _carried_forward(history, history["trade_date"])
    newest = newest.assign(updated_at=np.datetime64(_naive_utc(updated_at), "us"))
    return conform(newest.assign(**dict.fromkeys(SIGNAL_FIELDS)), LATEST_SNAPSHOT)


def _carried_forward(rows: pd.DataFrame, sessions: pd.Series) -> pd.DataFrame:
    """Per symbol, sorted: its newest row by ts (ties: the later row), with KEPT_FIELDS from
    its newest row that has them and SESSION_FIELDS from its newest that has them in the
    newest row's session (`sessions`: each row's trading day); filled fields as objects.

    Column-wise on ~10^5 quotes: only the newest rows are taken whole, and only fields
    some newest row lacks are looked for further back."""
    # A stable sort on ts alone keeps rows of equal ts in order, so "last" is the later row.
    by_time = np.argsort(rows["ts"].to_numpy(), kind="stable")
    symbols, days = rows["symbol"].to_numpy(), sessions.to_numpy()
    newest_at = by_time[~pd.Series(symbols[by_time]).duplicated(keep="last").to_numpy()]
    newest = rows.iloc[newest_at].set_index("symbol")
    day_of_newest = dict(zip(newest.index, days[newest_at], strict=True))
    for field in (*KEPT_FIELDS, *SESSION_FIELDS):
        gaps = set(newest.index[newest[field].isna().to_numpy()])
        if not gaps:
            continue
        # Hashed look-ups: np.isin compares object arrays pairwise (seconds at 10^5 rows).
        usable = rows[field].notna().to_numpy() & pd.Series(symbols).isin(gaps).to_numpy()
        at = np.flatnonzero(usable)
        if field in SESSION_FIELDS:
            session = pd.Series(symbols[at]).map(day_of_newest).to_numpy()
            at = at[days[at] == session]
        at = at[np.argsort(rows["ts"].to_numpy()[at], kind="stable")]
        # The column's own array: to_numpy() would turn Int64 volumes with gaps into floats.
        known = pd.Series(rows[field].array[at], index=symbols[at])
        known = known[~known.index.duplicated(keep="last")]
        # As objects (pandas' fillna would downcast them); the caller conforms the dtypes.
        values = newest[field].to_numpy(dtype=object)
        found = known.reindex(newest.index).to_numpy(dtype=object)
        values[pd.isna(values)] = found[pd.isna(values)]
        newest[field] = values
    return newest.sort_index().reset_index()


def snapshot_table(
    stored: pd.DataFrame, newest: pd.DataFrame, signals: pd.DataFrame
) -> pd.DataFrame:
    """The whole LATEST_SNAPSHOT table once the batch's `newest` rows are merged into the
    `stored` table, sorted by symbol.

    A symbol's row moves only to a newer quote (on a tie the stored row stays, as in every
    IO manager's merge). The row it moves to carries forward what its quote omits from the
    stored row (KEPT_FIELDS always, SESSION_FIELDS within the session) and takes the
    symbol's newest signal by trigger time, of `signals` (LIVE_SIGNALS rows) and the stored
    row's. Rows that do not move stay as stored: the table returned is the one the IO
    manager leaves.
    """
    if newest.empty:
        return stored.sort_values("symbol", ignore_index=True)
    before = stored.set_index("symbol")["ts"].reindex(newest["symbol"]).to_numpy()
    moves = newest[pd.isna(before) | (newest["ts"].to_numpy() > before)]
    if moves.empty:
        return stored.sort_values("symbol", ignore_index=True)
    earlier = stored[stored["symbol"].isin(moves["symbol"])]
    both = pd.concat([frame for frame in (earlier, moves) if not frame.empty], ignore_index=True)
    moved = _carried_forward(both, quote_trading_days(both)).set_index("symbol")
    latest = _newest_signals(earlier, signals).reindex(moved.index)
    moved[list(SIGNAL_FIELDS)] = latest[list(SIGNAL_FIELDS)]
    kept = stored[~stored["symbol"].isin(moves["symbol"])]
    moved = conform(moved.reset_index(), LATEST_SNAPSHOT)
    table = pd.concat([frame for frame in (kept, moved) if not frame.empty])
    return conform(table.sort_values("symbol"), LATEST_SNAPSHOT)  # conform: a fresh index


def _newest_signals(stored: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """Per symbol: its newest signal by trigger time among the stored rows' and `signals`
    (one quote's signals ordered by kind, then reason, so the pick is the same every run)."""
    found = pd.DataFrame(
        {
            "symbol": signals["symbol"].to_numpy(),
            "last_signal": signals["signal"].to_numpy(),
            "last_signal_at": signals["ts"].to_numpy(),
            "last_signal_reason": signals["reason"].to_numpy(),
        }
    )
    known = stored.loc[stored["last_signal_at"].notna(), ["symbol", *SIGNAL_FIELDS]]
    frames = [frame for frame in (known, found) if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=list(SIGNAL_FIELDS), index=pd.Index([], name="symbol"))
    # Sorted on every column that can differ, so no tie is left to the sort's stability.
    candidates = pd.concat(frames).sort_values(
        ["symbol", "last_signal_at", "last_signal", "last_signal_reason"]
    )
    return candidates.drop_duplicates("symbol", keep="last").set_index("symbol")


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """UTC wall time without a zone, as the tables store it (naive input is taken as UTC)."""
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
