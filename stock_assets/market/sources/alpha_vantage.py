"""Alpha Vantage (www.alphavantage.co/query): daily bars and intraday quotes over HTTPS.

The service answers HTTP 200 for almost everything and puts problems in the body:
``{"Error Message": ...}`` (bad symbol or parameters, or a bad key), ``{"Note": ...}``
(per-minute call frequency exceeded) and ``{"Information": ...}`` (rate limits, premium-only
endpoints, demo/invalid keys). Those bodies are classified here so that a bad symbol becomes
a symbol error, throttling is retried with backoff, and everything else fails the request.

The API key travels as the ``apikey`` query parameter, so it is in every request URL:
no URL, request or exception text that could hold it is ever logged or raised unredacted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import requests

from stock_assets.market import calendar
from stock_assets.market.actions import (
    DIVIDEND,
    SPLIT,
    action_frame,
    action_record,
    empty_actions,
)
from stock_assets.market.sources.base import (
    INTRADAY_BAR_COLUMNS,
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

DEFAULT_BASE_URL = "https://www.alphavantage.co/query"
# Premium: fields 1. open .. 8. split coefficient, with "5. adjusted close" and "6. volume".
DAILY_ADJUSTED = "TIME_SERIES_DAILY_ADJUSTED"
# The free tier only serves TIME_SERIES_DAILY: fields "1. open" .. "4. close" and
# "5. volume" (no adjusted close; parse_record then uses the close as adj_close).
DAILY = "TIME_SERIES_DAILY"
INTRADAY = "TIME_SERIES_INTRADAY"
DAILY_SERIES = "Time Series (Daily)"
# "compact" returns the latest 100 data points, "full" the whole history (20+ years).
COMPACT_SESSIONS = 100
# Intraday without `month` covers about the last 30 days; older sessions ask for their month.
RECENT_INTRADAY_DAYS = 25
_INTRADAY_FIELDS = ("1. open", "2. high", "3. low", "4. close", "5. volume")

_PER_DAY = re.compile(r"per day", re.IGNORECASE)
_BURST = re.compile(r"sparingly|per second|per minute", re.IGNORECASE)
_RATE = re.compile(r"rate limit|call frequency|requests per|sparingly", re.IGNORECASE)
_KEY = re.compile(r"api ?key", re.IGNORECASE)
_APIKEY_PARAM = re.compile(r"(apikey=)[^&\s'\"]*", re.IGNORECASE)


class _SymbolFailure(Exception):
    """The response for one symbol is unusable; the other symbols go on."""


class AlphaVantageSource(MarketDataSource):
    """One request per symbol to the daily series; one per symbol for intraday quotes."""

    name = "alpha_vantage"

    def __init__(
        self,
        api_key: str,
        session: requests.Session | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        base_url: str = DEFAULT_BASE_URL,
        *,
        daily_function: str = DAILY_ADJUSTED,
        intraday_interval: str = "5min",
        now: Callable[[], dt.datetime] | None = None,
        timeout: float = 30.0,
    ) -> None:
        if daily_function not in (DAILY_ADJUSTED, DAILY):
            raise ValueError(f"daily_function must be {DAILY_ADJUSTED} or {DAILY}")
        if intraday_interval not in ("1min", "5min"):
            raise ValueError("intraday_interval must be '1min' or '5min'")
        self._api_key = (api_key or "").strip()
        self._session = session or requests.Session()
        # The free tier allows 5 calls a minute: waits of 15s, 30s, 60s cover a window.
        self.backoff = Backoff(max_attempts=max_attempts, base_delay=15.0, max_delay=60.0)
        self._sleep = sleep
        self._base_url = base_url
        self.daily_function = daily_function
        # 5-minute bars: the 100 of "compact" span more than a 78-bar regular session, so
        # one call holds today's volume so far and the previous session's last close.
        self.intraday_interval = intraday_interval
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the key, even in a debugger or a log of locals
        return f"AlphaVantageSource(base_url={self._base_url!r}, api_key='***')"

    # -- daily bars -----------------------------------------------------------------------

    def extract_data(self, query: PriceQuery) -> Extraction:
        extraction = Extraction(source=self.name, raw_suffix=".jsonl")
        outputsize = self._outputsize(query.start)
        cutoff = _first_unfinished_day(self._now())
        bodies: list[str] = []
        for symbol in query.symbols:
            params = {"function": self.daily_function, "symbol": symbol, "outputsize": outputsize}
            try:
                document = self._fetch(params, symbol, bodies)
                series = _series(document, DAILY_SERIES)
            except _SymbolFailure as exc:
                extraction.symbol_errors[symbol] = str(exc)
                continue
            for day_text in sorted(series):
                day = _date_or_none(day_text)
                if day is not None and not (query.start <= day <= query.end and day < cutoff):
                    continue
                entry = series[day_text]
                fields = dict(entry) if isinstance(entry, Mapping) else {"value": entry}
                payload = dumps_record({"symbol": symbol, "date": day_text, **fields})
                extraction.records.append(
                    RawRecord(symbol=symbol, trade_date=day and day.isoformat(), payload=payload)
                )
        extraction.raw_body = "".join(line + "\n" for line in bodies).encode("utf-8")
        return extraction

    @staticmethod
    def parse_record(payload: str) -> dict[str, object]:
        record = load_json_object(payload)
        symbol, day = record.get("symbol"), record.get("date")
        if not isinstance(symbol, str) or not symbol:
            raise RecordError("record has no 'symbol'")
        if not isinstance(day, str) or _date_or_none(day) is None:
            raise RecordError(f"record date {day!r} is not YYYY-MM-DD")
        close = record.get("4. close")
        adjusted = "5. adjusted close" in record
        return {
            "symbol": symbol,
            "trade_date": day,
            "open": record.get("1. open"),
            "high": record.get("2. high"),
            "low": record.get("3. low"),
            "close": close,
            # TIME_SERIES_DAILY (free) has no adjusted close: the close is the best we have.
            "adj_close": record.get("5. adjusted close") if adjusted else close,
            "volume": record.get("6. volume") if adjusted else record.get("5. volume"),
        }

    # -- corporate actions ----------------------------------------------------------------

    def corporate_actions(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Splits and dividends from the adjusted daily series ("7. dividend amount",
        "8. split coefficient"); the free tier's TIME_SERIES_DAILY carries none."""
        if self.daily_function != DAILY_ADJUSTED:
            log.info("alpha_vantage: %s has no split or dividend fields", self.daily_function)
            return empty_actions()
        records: list[dict[str, object]] = []
        for symbol in self.transform_query(symbols, start, start).symbols:
            params = {"function": DAILY_ADJUSTED, "symbol": symbol}
            params["outputsize"] = self._outputsize(start)
            try:
                document = self._fetch(params, symbol, [])
                series = _series(document, DAILY_SERIES)
            except _SymbolFailure as exc:
                log.warning("alpha_vantage: no actions for %s: %s", symbol, exc)
                continue
            records.extend(actions_in_series(symbol, series, start, end))
        return action_frame(records)

    # -- intraday quotes ------------------------------------------------------------------

    def latest_quotes(self, symbols: Sequence[str], as_of: dt.datetime) -> list[dict[str, object]]:
        """Last regular-session intraday bar at or before ``as_of`` per symbol.

        ``change`` is against the last bar of the previous session in the same response
        (the close of its final 5-minute bar), ``volume`` the sum of the session's bars.
        """
        as_of_ts = pd.Timestamp(as_of)
        as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tzinfo is None else as_of_ts
        series_name = f"Time Series ({self.intraday_interval})"
        quotes = []
        for symbol in normalize_symbols(symbols):
            params = {
                "function": INTRADAY,
                "symbol": symbol,
                "interval": self.intraday_interval,
                "outputsize": "compact",
                "extended_hours": "false",
            }
            try:
                document = self._fetch(params, symbol, [])
                quote = _intraday_quote(symbol, document, series_name, as_of_ts)
            except _SymbolFailure as exc:
                log.warning("alpha_vantage: no quote for %s: %s", symbol, exc)
                continue
            if quote is None:
                log.warning("alpha_vantage: no intraday bar for %s at or before %s", symbol, as_of)
                continue
            quotes.append({**quote, "source": self.name})
        return quotes

    # -- intraday bars --------------------------------------------------------------------

    def intraday_bars(
        self, symbols: Sequence[str], day: dt.date, interval_minutes: int = 1
    ) -> IntradayPull:
        """TIME_SERIES_INTRADAY bars of one session, one request per symbol.

        Without ``month`` the service returns its most recent days (``outputsize=full``:
        about 30); an older session is asked for with ``month=YYYY-MM``. Stamps are bar
        starts in the "Time Zone" of Meta Data. A bad symbol is a symbol error; throttling
        ("Note", rate-limit "Information") is retried; other errors fail the pull.
        """
        if interval_minutes not in (1, 5):
            raise ValueError("Alpha Vantage intraday intervals here are 1 or 5 minutes")
        interval = f"{interval_minutes}min"
        params = {
            "function": INTRADAY,
            "interval": interval,
            "outputsize": "full",
            "extended_hours": "false",
        }
        today = pd.Timestamp(self._now()).tz_convert(calendar.MARKET_TIMEZONE).date()
        if (today - day).days > RECENT_INTRADAY_DAYS:
            params["month"] = day.strftime("%Y-%m")
        pull = IntradayPull(self.name, empty_intraday_bars())
        frames = []
        for symbol in normalize_symbols(symbols):
            try:
                document = self._fetch({**params, "symbol": symbol}, symbol, [])
                bars = _intraday_bars(symbol, document, f"Time Series ({interval})", day)
            except _SymbolFailure as exc:
                pull.symbol_errors[symbol] = str(exc)
                continue
            if bars.empty:
                pull.symbol_errors[symbol] = f"Alpha Vantage has no {interval} bars on {day}"
            frames.append(bars)
        if frames:
            pull.bars = pd.concat(frames, ignore_index=True)
        return pull

    # -- HTTP -----------------------------------------------------------------------------

    def _outputsize(self, start: dt.date) -> str:
        now = pd.Timestamp(self._now())
        now = now.tz_localize("UTC") if now.tzinfo is None else now
        today = now.tz_convert(calendar.MARKET_TIMEZONE).date()
        recent = len(calendar.sessions_between(start, today)) <= COMPACT_SESSIONS
        return "compact" if recent else "full"

    def _fetch(self, params: dict[str, str], symbol: str, bodies: list[str]) -> dict[str, Any]:
        """GET with throttle retries; the last response (redacted) is appended to ``bodies``."""
        if not self._api_key:
            raise SourceError("alpha_vantage: no API key configured (set ALPHA_VANTAGE_API_KEY)")
        last: list[str] = []

        def attempt() -> dict[str, Any]:
            text, status = self._get(params, symbol)
            last[:] = [json.dumps({"symbol": symbol, **params, "status": status, "body": text})]
            try:
                document = json.loads(text)
            except ValueError:
                raise _SymbolFailure(
                    f"Alpha Vantage sent a non-JSON response for {symbol}: {text[:80]!r}"
                ) from None
            self._check(document, symbol, params["function"])
            return document

        try:
            return call_with_backoff(
                attempt, provider="alpha_vantage", backoff=self.backoff, sleep=self._sleep
            )
        finally:
            bodies.extend(last)  # error answers are kept for the audit trail too

    def _get(self, params: dict[str, str], symbol: str) -> tuple[str, int]:
        failure = None
        try:
            response = self._session.get(
                self._base_url,
                params={**params, "datatype": "json", "apikey": self._api_key},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            # requests puts the full URL, key included, in its messages: redact them.
            failure = f"{type(exc).__name__}: {self._redact(str(exc))}"
        if failure is not None:  # raised outside the handler: no chained original exception
            raise SourceError(f"alpha_vantage: request for {symbol} failed: {failure}")
        text = self._redact(response.content.decode("utf-8", errors="replace"))
        if response.status_code in (429, 503):
            raise Throttled(f"HTTP {response.status_code} for {symbol}")
        if response.status_code >= 400:
            raise SourceError(
                f"alpha_vantage: HTTP {response.status_code} for {symbol}: {text[:200]!r}"
            )
        return text, response.status_code

    def _check(self, document: object, symbol: str, function: str) -> None:
        if not isinstance(document, dict):
            raise _SymbolFailure(
                f"Alpha Vantage sent a JSON {type(document).__name__} for {symbol}"
            )
        if "Error Message" in document:
            message = self._redact(str(document["Error Message"]))
            if _KEY.search(message):
                raise SourceError(f"alpha_vantage: the API key was rejected: {message}")
            raise _SymbolFailure(f"Alpha Vantage rejected the request for {symbol}: {message}")
        if "Note" in document:  # "Our standard API call frequency is 5 calls per minute..."
            raise Throttled(f"call frequency exceeded: {self._redact(str(document['Note']))}")
        if "Information" in document:
            message = self._redact(str(document["Information"]))
            if "premium endpoint" in message.lower():
                hint = (
                    f"; the free tier serves {DAILY}: AlphaVantageSource(daily_function={DAILY!r})"
                    if function == DAILY_ADJUSTED
                    else ""
                )
                raise SourceError(f"alpha_vantage: {function} is premium-only: {message}{hint}")
            if _RATE.search(message):
                if _PER_DAY.search(message) and not _BURST.search(message):
                    # The daily quota resets at midnight: waiting minutes cannot help.
                    raise SourceError(f"alpha_vantage: daily request quota used up: {message}")
                raise Throttled(f"rate limit: {message}")
            if _KEY.search(message):
                raise SourceError(f"alpha_vantage: the API key was rejected: {message}")
            raise SourceError(f"alpha_vantage: {message}")

    def _redact(self, text: str) -> str:
        text = _APIKEY_PARAM.sub(r"\1***", text)
        return text.replace(self._api_key, "***") if self._api_key else text


# -- helpers ------------------------------------------------------------------------------------


def actions_in_series(
    symbol: str, series: Mapping[str, Any], start: dt.date, end: dt.date
) -> list[dict[str, object]]:
    """The actions of a TIME_SERIES_DAILY_ADJUSTED series with ex-dates in [start, end]: a
    day whose "8. split coefficient" is not 1 is a split of that ratio, one whose
    "7. dividend amount" is above 0 a dividend of that amount."""
    found = []
    for day_text, entry in sorted(series.items()):
        day = _date_or_none(day_text)
        if day is None or not start <= day <= end or not isinstance(entry, Mapping):
            continue
        where = f"alpha_vantage {symbol} {day_text}"
        coefficient = entry.get("8. split coefficient", "1.0")
        if float(coefficient) != 1.0:
            found.append(action_record(symbol, day, SPLIT, coefficient, where))
        dividend = entry.get("7. dividend amount", "0.0000")
        if float(dividend) > 0:
            found.append(action_record(symbol, day, DIVIDEND, dividend, where))
    return found


def _series(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    series = document.get(name)
    if not isinstance(series, Mapping):
        keys = ", ".join(repr(k) for k in document) or "none"
        raise _SymbolFailure(f"Alpha Vantage response has no {name!r} (keys: {keys})")
    return series


def _date_or_none(text: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)) if len(str(text)) == 10 else None
    except ValueError:
        return None


def _first_unfinished_day(now: dt.datetime) -> dt.date:
    """Bars dated on or after this day may still change (today's while the session runs)."""
    ts = pd.Timestamp(now)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    today = ts.tz_convert(calendar.MARKET_TIMEZONE).date()
    if calendar.is_session(today) and ts < calendar.market_close_utc(today):
        return today
    return today + dt.timedelta(days=1)


def _time_zone(document: Mapping[str, Any]) -> str:
    """The "N. Time Zone" entry of Meta Data (6. for intraday, 5. for daily)."""
    meta = document.get("Meta Data")
    if isinstance(meta, Mapping):
        for key, value in meta.items():
            if str(key).endswith("Time Zone") and value:
                return str(value)
    return "US/Eastern"


def _intraday_bars(
    symbol: str, document: Mapping[str, Any], series_name: str, day: dt.date
) -> pd.DataFrame:
    """The series' bars stamped on `day` (local time), with bar starts in UTC."""
    series = _series(document, series_name)
    zone = _time_zone(document)
    rows, malformed = [], 0
    for stamp, fields in series.items():
        try:
            local = pd.Timestamp(stamp).tz_localize(zone)
            values = [float(fields[name]) for name in _INTRADAY_FIELDS]
        except (ValueError, TypeError, KeyError):
            malformed += 1
            continue
        if local.date() == day:
            rows.append((symbol, local.tz_convert("UTC"), *values))
    if malformed:
        log.warning("alpha_vantage: skipped %d malformed intraday bars of %s", malformed, symbol)
    bars = pd.DataFrame(rows, columns=list(INTRADAY_BAR_COLUMNS))
    bars["volume"] = bars["volume"].astype("int64")
    return bars.sort_values("bar_start", ignore_index=True)


def _intraday_quote(
    symbol: str, document: Mapping[str, Any], series_name: str, as_of: pd.Timestamp
) -> dict[str, object] | None:
    series = _series(document, series_name)
    zone = _time_zone(document)
    bars = []
    for stamp, fields in series.items():
        try:
            local = pd.Timestamp(stamp).tz_localize(zone)
            close = float(fields["4. close"])
            volume = int(float(fields.get("5. volume", 0)))
        except (ValueError, TypeError, KeyError):
            log.warning("alpha_vantage: skipping malformed intraday bar %s of %s", stamp, symbol)
            continue
        if local.tz_convert("UTC") <= as_of:
            bars.append((local, close, volume))
    if not bars:
        return None
    bars.sort()
    last_ts, price, _ = bars[-1]
    day = last_ts.date()
    volume = sum(v for ts, _, v in bars if ts.date() == day)
    earlier = [close for ts, close, _ in bars if ts.date() < day]
    previous = earlier[-1] if earlier else None
    change = round(price - previous, 4) if previous else None
    return {
        "symbol": symbol,
        "ts": last_ts.tz_convert("UTC").isoformat(),
        "price": price,
        "volume": volume,
        "change": change,
        "change_pct": round(100 * change / previous, 4) if change is not None else None,
        "name": None,  # the intraday series carries no company name
    }
