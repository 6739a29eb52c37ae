"""Yahoo Finance through yfinance 1.x: daily bars for bronze, 1-minute bars for live quotes.

yfinance quirks this adapter is written against (checked in yfinance 1.7 ``multi.py``):

* ``download`` returns (Price, Ticker) MultiIndex columns for every call, also for a single
  ticker, and a tz-naive "Date" index of exchange-local dates for daily bars
  (``ignore_tz`` defaults to True for daily, False for intraday).
* It never raises for a single ticker: a failure (unknown symbol, no data, HTTP 429) is
  logged on the ``yfinance`` logger and the ticker comes back as all-NaN columns. The
  per-ticker reasons are therefore read from that log while the call runs, which is also
  the only way to see a rate limit (``YFRateLimitError``) in a multi-ticker download.
* ``auto_adjust`` defaults to True (Close silently becomes adjusted, no Adj Close): it is
  always passed explicitly as False so both prices arrive.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.actions import DIVIDEND, SPLIT, action_frame, action_record
from stock_assets.market.sources.base import (
    Extraction,
    IntradayPull,
    MarketDataSource,
    PriceQuery,
    RawRecord,
    RecordError,
    SourceError,
    dumps_record,
    empty_intraday_bars,
    load_json_object,
)
from stock_assets.market.sources.retry import Backoff, Throttled, call_with_backoff
from stock_assets.market.symbols import normalize_symbols

log = logging.getLogger(__name__)

NY = calendar.MARKET_TIMEZONE
# Column names as yfinance delivers them, in its usual order; extra columns are kept too.
YF_FIELDS = ("Open", "High", "Low", "Close", "Adj Close", "Volume")
_RATE_LIMIT = re.compile(r"YFRateLimitError|Too Many Requests|rate.?limit", re.IGNORECASE)
# How far back Yahoo serves intraday bars, by interval in minutes (its documented limits).
INTRADAY_REACH_DAYS = {1: 30, 5: 60}
_URL = re.compile(r"https?://[^\s'\"]+")
_REPR = re.compile(r"^(?P<name>\w+)\((?P<q>['\"])(?P<text>.*)(?P=q)\)$", re.DOTALL)


class YahooSource(MarketDataSource):
    """Daily OHLCV (with Adj Close) per ticker from ``yfinance.download``."""

    name = "yahoo"

    def __init__(
        self,
        download: Callable[..., pd.DataFrame | None] | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if download is None:
            import yfinance  # imported lazily: only this source needs it

            download = yfinance.download
        self._download = download
        # Yahoo's throttle window is short; 2s, 4s, 8s (+jitter) rides it out.
        self.backoff = Backoff(max_attempts=max_attempts, base_delay=2.0, max_delay=30.0)
        self._sleep = sleep
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    # -- daily bars -----------------------------------------------------------------------

    def extract_data(self, query: PriceQuery) -> Extraction:
        symbols = list(query.symbols)
        frame, failures = self._call(
            symbols,
            start=query.start.isoformat(),
            # yfinance's end is exclusive: ask for the day after the last one wanted.
            end=(query.end + dt.timedelta(days=1)).isoformat(),
            interval="1d",
        )
        extraction = Extraction(source=self.name, raw_suffix=".csv")
        extraction.raw_body = frame.to_csv().encode("utf-8") if frame is not None else b""
        per_ticker = _split_by_ticker(frame, symbols)
        cutoff = self._first_unfinished_day()
        for symbol in symbols:
            bars = per_ticker.get(symbol)
            # An all-NaN row is the union index of the other tickers, not a Yahoo record.
            bars = bars.dropna(how="all") if bars is not None else None
            if bars is None or bars.empty:
                extraction.symbol_errors[symbol] = _failure_reason(symbol, query, failures)
                continue
            dropped = 0
            for label, day, row in _rows(bars):
                if day < query.start or day > query.end:
                    continue
                if day >= cutoff:
                    dropped += 1
                    continue
                payload = {"symbol": symbol, "Date": label, **_row_values(row)}
                extraction.records.append(
                    RawRecord(
                        symbol=symbol, trade_date=day.isoformat(), payload=dumps_record(payload)
                    )
                )
            if dropped:
                log.info(
                    "yahoo: skipped %d unfinished bar(s) of %s on or after %s (session not closed)",
                    dropped,
                    symbol,
                    cutoff,
                )
        return extraction

    @staticmethod
    def parse_record(payload: str) -> dict[str, object]:
        record = load_json_object(payload)
        symbol = record.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise RecordError("record has no 'symbol'")
        if record.get("Date") in (None, ""):
            raise RecordError("record has no 'Date'")
        return {
            "symbol": symbol,
            "trade_date": _trade_date_text(record["Date"]),
            "open": record.get("Open"),
            "high": record.get("High"),
            "low": record.get("Low"),
            "close": record.get("Close"),
            "adj_close": record.get("Adj Close"),
            "volume": record.get("Volume"),
        }

    # -- corporate actions ----------------------------------------------------------------

    def corporate_actions(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """yfinance's actions (the chart's dividend and split events) in [start, end]."""
        wanted = list(self.transform_query(symbols, start, end).symbols)
        frame, failures = self._call(
            wanted,
            actions=True,
            start=start.isoformat(),
            end=(end + dt.timedelta(days=1)).isoformat(),
            interval="1d",
        )
        for symbol, reason in sorted(failures.items()):
            log.warning("yahoo: no actions for %s: %s", symbol, reason)
        records = []
        for symbol, bars in _split_by_ticker(frame, wanted).items():
            records.extend(actions_in_bars(symbol, bars, start, end))
        return action_frame(records)

    # -- live quotes ----------------------------------------------------------------------

    def latest_quotes(self, symbols: Sequence[str], as_of: dt.datetime) -> list[dict[str, object]]:
        """Last regular-session 1-minute bar at or before ``as_of``, versus the prior close.

        ``volume`` is the session volume so far (sum of the day's bars); the previous close
        comes from a short daily download because the 1-minute series covers one day only.
        """
        wanted = list(normalize_symbols(symbols))
        as_of_ts = _utc(pd.Timestamp(as_of))
        minute, _ = self._call(wanted, period="1d", interval="1m")
        ny_day = as_of_ts.tz_convert(NY).date()
        daily, _ = self._call(
            wanted,
            start=(ny_day - dt.timedelta(days=10)).isoformat(),
            end=(ny_day + dt.timedelta(days=1)).isoformat(),
            interval="1d",
        )
        minute_by, daily_by = _split_by_ticker(minute, wanted), _split_by_ticker(daily, wanted)
        quotes = []
        for symbol in wanted:
            quote = _quote(symbol, minute_by.get(symbol), daily_by.get(symbol), as_of_ts)
            if quote is None:
                log.warning("yahoo: no 1-minute bar for %s at or before %s", symbol, as_of_ts)
                continue
            quotes.append({**quote, "source": self.name})
        return quotes

    # -- intraday bars --------------------------------------------------------------------

    def intraday_bars(
        self, symbols: Sequence[str], day: dt.date, interval_minutes: int = 1
    ) -> IntradayPull:
        """Regular-session bars of one session from ``download(interval="1m" | "5m")``.

        Yahoo keeps 1-minute bars for the last 30 days and 5-minute bars for 60; an older
        session fails with that reason instead of returning nothing. yfinance indexes
        intraday bars by their start, tz-aware in America/New_York; they come back in UTC.
        """
        reach = INTRADAY_REACH_DAYS.get(interval_minutes)
        if reach is None:
            raise ValueError(f"Yahoo intraday intervals are {sorted(INTRADAY_REACH_DAYS)} minutes")
        today = _utc(pd.Timestamp(self._now())).tz_convert(NY).date()
        if (today - day).days >= reach:
            raise SourceError(
                f"yahoo: {interval_minutes}-minute bars reach back {reach} days only; "
                f"{day} is {(today - day).days} days ago"
            )
        wanted = list(normalize_symbols(symbols))
        frame, failures = self._call(
            wanted,
            start=day.isoformat(),
            end=(day + dt.timedelta(days=1)).isoformat(),
            interval=f"{interval_minutes}m",
            prepost=False,
        )
        pull = IntradayPull(self.name, empty_intraday_bars())
        per_ticker = _split_by_ticker(frame, wanted)
        frames = []
        for symbol in wanted:
            bars = per_ticker.get(symbol)
            bars = (
                bars.dropna(subset=["Open", "High", "Low", "Close"]) if bars is not None else None
            )
            if bars is None or bars.empty:
                detail = failures.get(symbol)
                pull.symbol_errors[symbol] = (
                    f"Yahoo returned no {interval_minutes}-minute bars for {symbol} on {day}"
                    + (f": {_readable(detail, symbol)}" if detail else "")
                )
                continue
            starts = pd.DatetimeIndex(bars.index)
            starts = starts.tz_localize(NY) if starts.tz is None else starts
            frames.append(
                pd.DataFrame(
                    {
                        "symbol": symbol,
                        "bar_start": starts.tz_convert("UTC"),
                        **{
                            c.lower(): bars[c].to_numpy(float)
                            for c in ("Open", "High", "Low", "Close")
                        },
                        "volume": bars["Volume"].fillna(0).to_numpy().astype("int64"),
                    }
                )
            )
        if frames:
            pull.bars = pd.concat(frames, ignore_index=True)
        return pull

    # -- the download call ----------------------------------------------------------------

    def _call(
        self, symbols: list[str], actions: bool = False, **kwargs: Any
    ) -> tuple[pd.DataFrame | None, dict[str, str]]:
        """One ``download`` with throttle retries; returns the frame and per-ticker errors."""

        def attempt() -> tuple[pd.DataFrame | None, dict[str, str]]:
            from yfinance.exceptions import YFRateLimitError

            with _yfinance_errors() as failures:
                try:
                    frame = self._download(
                        symbols,
                        auto_adjust=False,
                        actions=actions,
                        progress=False,
                        group_by="column",
                        multi_level_index=True,
                        **kwargs,
                    )
                except YFRateLimitError as exc:
                    raise Throttled(f"Yahoo rate limit: {exc}") from exc
            throttled = sorted(s for s in symbols if _RATE_LIMIT.search(failures.get(s, "")))
            if throttled:
                raise Throttled(
                    f"Yahoo answered HTTP 429 Too Many Requests for {', '.join(throttled)}"
                )
            return frame, failures

        return call_with_backoff(attempt, provider="yahoo", backoff=self.backoff, sleep=self._sleep)

    def _first_unfinished_day(self) -> dt.date:
        """Bars dated on or after this day may still change (today's while the session runs)."""
        now = _utc(pd.Timestamp(self._now()))
        today = now.tz_convert(NY).date()
        if calendar.is_session(today) and now < calendar.market_close_utc(today):
            return today
        return today + dt.timedelta(days=1)


# -- frame helpers --------------------------------------------------------------------------


def actions_in_bars(
    symbol: str, bars: pd.DataFrame, start: dt.date, end: dt.date
) -> list[dict[str, object]]:
    """The actions in a ticker's download(actions=True) frame: "Stock Splits" (the ratio,
    10.0 for 10-for-1) and "Dividends" (cash per share), 0 on days without one."""
    found = []
    for label, day, row in _rows(bars):
        if not start <= day <= end:
            continue
        where = f"yahoo {symbol} {label}"
        for column, kind in (("Stock Splits", SPLIT), ("Dividends", DIVIDEND)):
            value = _plain(row.get(column))
            if isinstance(value, int | float) and value == value and value > 0:
                found.append(action_record(symbol, day, kind, value, where))
    return found


def _split_by_ticker(frame: pd.DataFrame | None, symbols: list[str]) -> dict[str, pd.DataFrame]:
    """Per-ticker frames with plain field columns, whatever column shape download chose."""
    if frame is None or frame.columns.empty:
        return {}
    columns = frame.columns
    if not isinstance(columns, pd.MultiIndex):
        # multi_level_index=False with one ticker: plain field columns.
        if len(symbols) != 1:
            raise SourceError("yahoo: download returned single-level columns for several tickers")
        return {symbols[0]: frame}
    names = list(columns.names)
    if "Ticker" in names:
        ticker_level = names.index("Ticker")
    else:  # unnamed levels: the price level is the one holding the field names
        ticker_level = 1 if set(columns.get_level_values(0)) & set(YF_FIELDS) else 0
    out = {}
    for ticker in columns.get_level_values(ticker_level).unique():
        out[str(ticker).upper()] = frame.xs(ticker, axis=1, level=ticker_level)
    return out


def _rows(bars: pd.DataFrame) -> Iterator[tuple[str, dt.date, pd.Series]]:
    """(Date label as delivered, New York trade date, row) for each daily bar."""
    index = pd.DatetimeIndex(bars.index)
    for ts, day, (_, row) in zip(index, _trade_dates(index), bars.iterrows(), strict=True):
        naive_midnight = ts.tzinfo is None and ts == ts.normalize()
        yield (day.isoformat() if naive_midnight else ts.isoformat()), day, row


def _trade_dates(index: pd.DatetimeIndex) -> list[dt.date]:
    """Trade dates of a daily index: naive = exchange-local dates (yfinance's default for
    daily bars, ignore_tz=True); tz-aware = the date in New York."""
    local = index if index.tz is None else index.tz_convert(NY)
    return [ts.date() for ts in local]


def _row_values(row: pd.Series) -> dict[str, object]:
    ordered = [c for c in YF_FIELDS if c in row.index] + [
        c for c in row.index if c not in YF_FIELDS
    ]
    values = {}
    for column in ordered:
        value = _plain(row[column])
        # Volume is int64 per ticker but float once tickers are joined (NaN padding).
        if column == "Volume" and isinstance(value, float) and value.is_integer():
            value = int(value)
        values[str(column)] = value
    return values


def _plain(value: object) -> object:
    """numpy scalars -> Python numbers; NaN stays NaN so cleaning can reject it by name."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value)
    return value


def _trade_date_text(value: object) -> str:
    """'YYYY-MM-DD' from a Date label: a plain date, or a timestamp converted to New York."""
    text = str(value).strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        ts = pd.Timestamp(text)
    except ValueError as exc:
        raise RecordError(f"Date {text!r} is not an ISO date or timestamp") from exc
    if ts is pd.NaT:
        raise RecordError(f"Date {text!r} is not an ISO date or timestamp")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(NY)
    return ts.date().isoformat()


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _failure_reason(symbol: str, query: PriceQuery, failures: dict[str, str]) -> str:
    detail = failures.get(symbol)
    if detail:
        detail = _readable(detail, symbol)
    else:
        detail = "every value is empty (unknown or delisted ticker, or no trading in the range)"
    return f"Yahoo returned no prices for {symbol} from {query.start} to {query.end}: {detail}"


def _readable(error: str, symbol: str) -> str:
    """yfinance logs ``repr(exc)``; keep its message without the "$SYMBOL: " or URLs."""
    match = _REPR.match(error.strip())
    text = match["text"] if match else error.strip()
    text = text.removeprefix(f"${symbol}: ")
    if match and match["name"] not in ("YFPricesMissingError", "YFTzMissingError"):
        text = f"{match['name']}: {text}"
    return _URL.sub("<url>", text)


def _quote(
    symbol: str,
    minute: pd.DataFrame | None,
    daily: pd.DataFrame | None,
    as_of: pd.Timestamp,
) -> dict[str, object] | None:
    if minute is None or "Close" not in minute:
        return None
    bars = minute.dropna(subset=["Close"])
    index = pd.DatetimeIndex(bars.index)
    # Intraday indexes are tz-aware (exchange tz); naive ones are exchange wall time.
    index = index.tz_localize(NY) if index.tz is None else index
    bars = bars.set_axis(index.tz_convert("UTC"))
    bars = bars[bars.index <= as_of]
    if bars.empty:
        return None
    last_ts = bars.index[-1]
    day = last_ts.tz_convert(NY).date()
    session = bars[bars.index.tz_convert(NY).date == day]
    price = float(bars["Close"].iloc[-1])
    previous = _previous_close(daily, day)
    change = round(price - previous, 4) if previous else None
    return {
        "symbol": symbol,
        "ts": last_ts.isoformat(),
        "price": price,
        "volume": int(session["Volume"].fillna(0).sum()) if "Volume" in session else None,
        "change": change,
        "change_pct": round(100 * change / previous, 4) if change is not None else None,
        "name": None,  # download() carries no company name
    }


def _previous_close(daily: pd.DataFrame | None, day: dt.date) -> float | None:
    if daily is None or "Close" not in daily:
        return None
    closes = daily["Close"].dropna()
    dates = _trade_dates(pd.DatetimeIndex(closes.index))
    before = [float(c) for d, c in zip(dates, closes, strict=True) if d < day]
    return before[-1] if before else None


@contextmanager
def _yfinance_errors() -> Iterator[dict[str, str]]:
    """Collect yfinance's per-ticker failure lines ("['AAPL']: YFRateLimitError(...)").

    download() reports failed tickers only through its logger; the handler keeps lines
    from the calling thread (download logs them after joining its workers).
    """
    failures: dict[str, str] = {}
    handler = _FailureLog(failures)
    logger = logging.getLogger("yfinance")
    logger.addHandler(handler)
    try:
        yield failures
    finally:
        logger.removeHandler(handler)


class _FailureLog(logging.Handler):
    _LINE = re.compile(r"^\[(?P<tickers>[^\]]*)\]:\s*(?P<error>.+)$", re.DOTALL)

    def __init__(self, failures: dict[str, str]) -> None:
        super().__init__(level=logging.ERROR)
        self.failures = failures
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        try:
            match = self._LINE.match(record.getMessage().strip())
        except Exception:  # a malformed foreign log record must not break the download
            return
        if match:
            for ticker in re.findall(r"'([^']+)'", match["tickers"]):
                self.failures[ticker.upper()] = match["error"].strip()
