"""Offline, deterministic market simulator: the default source, so a laptop with no
network and no keys can run the whole graph.

Determinism: each symbol owns a random stream seeded from its name, consumed one fixed
block of draws per NYSE session counted from a fixed calendar start. A day's bar
therefore depends only on (symbol, date, seed), never on the range asked for.

Realism: geometric returns with drift, clustered volatility (a smoothed log-volatility
process), rare jumps (earnings-like gaps beyond 5 %), overnight gaps, intraday ranges that
scale with volatility, and volume that rises with the size of the move. Intraday ticks are
built so that their open, high, low, close and summed volume equal the daily bar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stock_assets.market import calendar
from stock_assets.market.actions import SPLIT, empty_actions
from stock_assets.market.sources.base import (
    INTRADAY_BAR_COLUMNS,
    Extraction,
    IntradayPull,
    MarketDataSource,
    PayloadLayout,
    PriceQuery,
    RawRecord,
    RecordError,
    dumps_record,
    empty_intraday_bars,
    load_json_object,
)
from stock_assets.market.watchlist import Listing, default_listings

TRADING_DAYS_PER_YEAR = 252
_DRAWS_PER_DAY = 6  # return, gap, high, low, volume, jump
_VOL_MEMORY = 0.94  # persistence of the log-volatility process (per day)
_VOL_KERNEL = _VOL_MEMORY ** np.arange(128)
_JUMP_PROBABILITY = 0.006
_JUMP_SIZE = 0.07
PRICE_ANCHOR = dt.date(2020, 1, 2)  # each symbol trades near its start_price on this day
_PRICES = ("open", "high", "low", "close", "adj_close")
_BAR_NUMBERS = (*_PRICES, "volume")
# A clean bar's payload: dumps_record of these members, in this order.
PAYLOAD_LAYOUT = PayloadLayout(
    (
        ("symbol", "symbol", "text"),
        ("date", "trade_date", "text"),
        *((name, name, "float") for name in _PRICES),
        ("volume", "volume", "count"),
    )
)
# The text after the point of a price in whole cents, by its cents (repr: 1.0, 1.5, 1.05).
_TEXT = pa.large_string()
_CENTS = pa.array([".0", *(f".{cents:02d}".rstrip("0") for cents in range(1, 100))], _TEXT)

# Kinds of bad records a real feed sends; injected at `fault_rate` for demos and tests.
FAULT_KINDS = (
    "missing_close",
    "non_numeric_price",
    "negative_price",
    "zero_price",
    "high_below_low",
    "nan_price",
    "infinite_price",
    "negative_volume",
    "truncated_json",
    "duplicate",
)


def _unit_hash(*parts: object) -> float:
    """A stable uniform number in [0, 1) from its inputs (unlike hash(), not salted)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _seed(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True)
class SymbolProfile:
    """Per-symbol character of the simulated stock, derived from its name."""

    start_price: float
    annual_drift: float
    annual_vol: float
    base_volume: float

    @classmethod
    def for_symbol(cls, symbol: str, seed: int) -> SymbolProfile:
        u = [_unit_hash(seed, symbol, k) for k in range(4)]
        annual_vol = 0.16 + 0.30 * u[2]
        return cls(
            start_price=round(15 + 285 * u[0], 2),
            # Drift of the log price is 2-12 %/year: the Ito term makes up for volatility.
            annual_drift=0.5 * annual_vol**2 + 0.02 + 0.10 * u[1],
            annual_vol=annual_vol,
            base_volume=float(10 ** (5.8 + 1.6 * u[3])),
        )


class SimulatedSource(MarketDataSource):
    """Deterministic daily bars and intraday ticks for any valid symbol."""

    name = "simulated"
    payload_layout = PAYLOAD_LAYOUT

    def __init__(
        self,
        fault_rate: float = 0.0,
        seed: int = 0,
        listings: Mapping[str, Listing] | None = None,
        actions: pd.DataFrame | None = None,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {fault_rate}")
        self.fault_rate = fault_rate
        self.seed = seed
        self.listings = default_listings() if listings is None else listings
        # Configured splits and dividends (market.actions.parse_action_list), by ex-date.
        self.actions = empty_actions() if actions is None else actions.sort_values("ex_date")

    def corporate_actions(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """The configured actions of `symbols` with ex-dates in [start, end]."""
        wanted = set(self.transform_query(symbols, start, start).symbols)
        chosen = self.actions[
            self.actions.symbol.isin(wanted)
            & (self.actions.ex_date >= start)
            & (self.actions.ex_date <= end)
        ]
        return chosen.reset_index(drop=True)

    # -- daily bars ---------------------------------------------------------------------

    def first_session(self, symbol: str) -> dt.date:
        listing = self.listings.get(symbol)
        since = listing.listed_since if listing and listing.listed_since else None
        start = max(since or calendar.CALENDAR_START, calendar.CALENDAR_START)
        first = calendar.sessions_between(start, start + dt.timedelta(days=10))
        return first[0]

    def daily_bars(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Bars for sessions in [start, end] (none before the symbol's listing)."""
        columns = ["symbol", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]
        days, bars = self._bars(symbol, start, end)
        if not days:
            return pd.DataFrame(columns=columns)
        return pd.DataFrame({"symbol": symbol, "trade_date": days, **bars}, columns=columns)

    def _bars(
        self, symbol: str, start: dt.date, end: dt.date
    ) -> tuple[list[dt.date], dict[str, np.ndarray]]:
        """The sessions of daily_bars and its columns as arrays."""
        first = self.first_session(symbol)
        days = calendar.sessions_between(max(start, first), end)
        if not days:
            return days, {}
        history = self._history(symbol, first, days[-1])
        # Copies: a slice would keep the whole walk since the listing day alive (decades of
        # bars per symbol) for as long as the requested bars are.
        return days, {
            name: values[len(values) - len(days) :].copy() for name, values in history.items()
        }

    def _history(self, symbol: str, first: dt.date, last: dt.date) -> dict[str, np.ndarray]:
        """Every bar (column arrays) from the listing day to `last`: the walk must start at
        listing."""
        first_ordinal = calendar.session_ordinal(first)
        wanted = calendar.session_ordinal(last) - first_ordinal + 1
        # Prices are anchored at PRICE_ANCHOR (or the listing day) so that levels stay
        # plausible over decades of drift instead of compounding from the calendar start.
        anchor = calendar.session_ordinal(max(first, _anchor_session())) - first_ordinal
        # The walk reaches the anchor and every configured action, so a bar (adj_close
        # included, as a vendor sends it today) never depends on the range asked for.
        n = max(wanted, anchor + 1, self._last_action_ordinal(symbol) - first_ordinal + 1)
        profile = SymbolProfile.for_symbol(symbol, self.seed)
        rng = np.random.Generator(np.random.PCG64(_seed(self.seed, symbol, "daily")))
        z = rng.standard_normal((n, _DRAWS_PER_DAY))

        daily_vol = profile.annual_vol / math.sqrt(TRADING_DAYS_PER_YEAR)
        # Clustered volatility: a smoothed shock process scales the daily sigma by ~0.6-1.7x.
        smoothed = np.convolve(z[:, 4], _VOL_KERNEL)[:n] * math.sqrt(1 - _VOL_MEMORY**2)
        sigma = daily_vol * np.exp(0.35 * smoothed - 0.5 * 0.35**2)
        mu = profile.annual_drift / TRADING_DAYS_PER_YEAR
        jumps = np.where(
            np.abs(z[:, 5]) > _jump_threshold(), np.sign(z[:, 5]) * _JUMP_SIZE, 0.0
        ) * (1 + 0.5 * np.abs(z[:, 1]))
        returns = mu - 0.5 * sigma**2 + sigma * z[:, 0] + jumps
        log_close = np.cumsum(returns)
        log_close -= log_close[anchor]
        close = profile.start_price * np.exp(log_close)
        prev_close = close / np.exp(returns)
        # The overnight gap is part of the day's return: open sits between prev close and close.
        open_ = prev_close * np.exp(0.3 * (np.log(close / prev_close)) + 0.2 * sigma * z[:, 1])
        top = np.maximum(open_, close)
        bottom = np.minimum(open_, close)
        high = top * np.exp(0.6 * sigma * np.abs(z[:, 2]))
        low = bottom * np.exp(-0.6 * sigma * np.abs(z[:, 3]))
        move = np.abs(returns) / daily_vol
        volume = profile.base_volume * np.exp(0.25 * z[:, 4] + 0.3 * move)

        prices = {"open": open_, "high": high, "low": low, "close": close}
        adjusted = self._apply_actions(symbol, first, n, prices, volume)
        rounded_close = _cents(prices["close"])
        # Rounding is monotone, so high >= max(open, close) and low <= min(open, close) hold.
        bars = {
            **{name: _cents(values) for name, values in prices.items()},
            "close": rounded_close,
            # As a vendor sends it: the close on the basis after every configured action.
            "adj_close": rounded_close if adjusted is None else _cents(close * adjusted),
            "volume": np.maximum(volume.round(), 100).astype(np.int64),
        }
        return {name: values[:wanted] for name, values in bars.items()}

    def _last_action_ordinal(self, symbol: str) -> int:
        """The session ordinal of the symbol's last configured ex-date (-1 without any),
        found as _apply_actions finds each one: the first session on or after it."""
        ex_dates = self.actions.ex_date[self.actions.symbol == symbol]
        if ex_dates.empty:
            return -1
        last = min(ex_dates.max(), calendar.calendar_end())
        return calendar.session_ordinal(
            calendar.sessions_between(last, last + dt.timedelta(days=10))[0]
        )

    def _apply_actions(
        self,
        symbol: str,
        first: dt.date,
        n: int,
        prices: dict[str, np.ndarray],
        volume: np.ndarray,
    ) -> np.ndarray | None:
        """Make the symbol's configured actions happen, in place: from a split's ex-date on,
        prices are divided and volume multiplied by its ratio; from a dividend's, prices
        drop by the factor 1 - amount / previous close (the adjustment convention, so the
        adjusted series is the undisturbed walk). Returns the price factor to the basis
        after every action (for adj_close), or None without actions."""
        mine = self.actions[self.actions.symbol == symbol]
        if mine.empty:
            return None
        first_ordinal = calendar.session_ordinal(first)
        to_today = np.ones(n)
        for ex_date, kind, ratio, amount in mine[
            ["ex_date", "action", "ratio", "amount"]
        ].itertuples(index=False):
            sessions = calendar.sessions_between(ex_date, ex_date + dt.timedelta(days=10))
            k = max(0, calendar.session_ordinal(sessions[0]) - first_ordinal)
            if k >= n:
                continue
            if kind == SPLIT:
                factor = 1.0 / ratio
                volume[k:] *= ratio
            elif k > 0 and amount < _cents(prices["close"][k - 1 : k])[0]:
                factor = 1.0 - amount / _cents(prices["close"][k - 1 : k])[0]
            else:
                continue  # no earlier close to pay the dividend from
            for values in prices.values():
                values[k:] *= factor
            to_today[:k] *= factor
        return to_today

    # -- the source interface -----------------------------------------------------------

    def extract_data(self, query: PriceQuery) -> Extraction:
        """One record per bar, symbol after symbol, day after day (two for a duplicate
        fault). A ten-year pull has millions, so payloads are written column-wise."""
        sessions = calendar.sessions_between(query.start, query.end)
        symbols, rows, parts = [], [], []
        for symbol in query.symbols:
            days, bars = self._bars(symbol, query.start, query.end)
            if days:  # a symbol's sessions are the last of the query's
                symbols.append(symbol)
                rows.append(np.arange(len(sessions) - len(days), len(sessions)))
                parts.append(bars)
        if not symbols:
            return Extraction(source=self.name)
        owner = np.repeat(np.arange(len(symbols)), [len(r) for r in rows])  # row -> symbol
        day = np.concatenate(rows)  # row -> session
        bars = {name: np.concatenate([p[name] for p in parts]) for name in _BAR_NUMBERS}
        texts = np.array([d.isoformat() for d in sessions], dtype=object)
        payloads = _payloads(symbols, owner, texts, day, bars)
        record_symbols = np.array(symbols, dtype=object)[owner]
        copies = np.ones(len(day), np.int64)
        if self.fault_rate > 0:
            self._inject_faults(record_symbols, np.array(sessions)[day], bars, payloads, copies)
        symbol_list, day_list, payload_list = (
            np.repeat(column, copies).tolist() for column in (record_symbols, texts[day], payloads)
        )
        return Extraction(
            source=self.name,
            records=list(map(RawRecord, symbol_list, day_list, payload_list)),
            raw_body=("\n".join(payload_list) + "\n").encode(),
        )

    def _inject_faults(
        self,
        symbols: np.ndarray,
        days: np.ndarray,
        bars: dict[str, np.ndarray],
        payloads: np.ndarray,
        copies: np.ndarray,
    ) -> None:
        """Corrupt the payloads fault_for picks, and count two copies of a duplicate."""
        for i, (symbol, day) in enumerate(zip(symbols.tolist(), days.tolist(), strict=True)):
            fault = self.fault_for(symbol, day)
            if fault is not None:
                record = {"symbol": symbol, "date": day.isoformat()}
                payloads[i] = _inject(fault, record | {k: bars[k][i].item() for k in _BAR_NUMBERS})
                copies[i] = 2 if fault == "duplicate" else 1

    def fault_for(self, symbol: str, day: dt.date) -> str | None:
        """The fault injected into this record, if any (deterministic per symbol and day)."""
        if self.fault_rate <= 0 or _unit_hash(self.seed, symbol, day, "fault") >= self.fault_rate:
            return None
        pick = _unit_hash(self.seed, symbol, day, "kind")
        return FAULT_KINDS[int(pick * len(FAULT_KINDS))]

    @staticmethod
    def parse_record(payload: str) -> dict[str, object]:
        record = load_json_object(payload)
        if "date" not in record:
            raise RecordError("record has no 'date' field")
        fields = {k: record.get(k) for k in ("symbol", "open", "high", "low", "close")}
        fields.update(
            trade_date=record["date"],
            adj_close=record.get("adj_close"),
            volume=record.get("volume"),
        )
        return fields

    # -- intraday -----------------------------------------------------------------------

    def intraday_ticks(self, symbol: str, day: dt.date, minutes: int = 1) -> pd.DataFrame:
        """Ticks (ts UTC, price, volume) over the session whose aggregate is the daily bar.

        A random path is bent monotonically so that its first and last points are the
        bar's open and close and its extremes are exactly the bar's high and low; the
        daily volume is split over a U-shaped intraday profile summing to the bar's volume.
        """
        days, bars = self._bars(symbol, day, day)
        if not days:
            return pd.DataFrame(columns=["symbol", "ts", "price", "volume"])
        opens, closes = calendar.market_open_utc(day), calendar.market_close_utc(day)
        ts = pd.date_range(opens, closes, freq=f"{minutes}min", inclusive="left")
        path, volume = self._tick_path(symbol, day, bars, len(ts))
        return pd.DataFrame({"symbol": symbol, "ts": ts, "price": path, "volume": volume})

    def _tick_path(
        self, symbol: str, day: dt.date, bar: Mapping[str, np.ndarray], n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The n tick prices and volumes of a one-day bar (its columns as 1-element arrays)."""
        rng = np.random.Generator(np.random.PCG64(_seed(self.seed, symbol, day, "ticks")))
        first = {name: values[0] for name, values in bar.items()}
        path = _bent_path(rng, n, first["open"], first["high"], first["low"], first["close"])
        shape = 1.0 + 1.5 * np.linspace(-1, 1, n) ** 2
        weights = shape * rng.uniform(0.5, 1.5, n)
        return path, _split_integer(int(first["volume"]), weights)

    def intraday_bars(
        self, symbols: Sequence[str], day: dt.date, interval_minutes: int = 1
    ) -> IntradayPull:
        """Minute bars of the session's ticks: a bar opens at the previous tick and closes at
        its own, so each close is the quote of that minute and the bars aggregate to the
        daily bar (open, high, low, close, volume) exactly."""
        from stock_assets.market.intraday import resample_bars, vendor_bars

        names, paths, volumes = [], [], []
        if calendar.non_session_reason(day) is None:
            opens, closes = calendar.market_open_utc(day), calendar.market_close_utc(day)
            starts = pd.date_range(opens, closes, freq="1min", inclusive="left")
            for symbol in self.transform_query(symbols, day, day).symbols:
                days, bar = self._bars(symbol, day, day)
                if days:
                    path, volume = self._tick_path(symbol, day, bar, len(starts))
                    names.append(symbol)
                    paths.append(path)
                    volumes.append(volume)
        if not names:
            return IntradayPull(self.name, empty_intraday_bars())
        close = np.concatenate(paths)
        open_ = np.concatenate([close[:1], close[:-1]])
        open_[:: len(starts)] = close[:: len(starts)]  # a session opens at its first tick
        utc_starts = np.tile(starts.tz_localize(None).to_numpy(), len(names))
        bars = pd.DataFrame(
            {
                "symbol": np.repeat(np.array(names, dtype=object), len(starts)),
                "bar_start": pd.DatetimeIndex(utc_starts).tz_localize("UTC"),
                "open": open_,
                "high": np.maximum(open_, close),
                "low": np.minimum(open_, close),
                "close": close,
                "volume": np.concatenate(volumes),
            }
        )
        if interval_minutes != 1:
            bars = resample_bars(vendor_bars(bars, self.name), interval_minutes)
            bars = bars.assign(bar_start=bars["bar_start"].dt.tz_localize("UTC"))
        return IntradayPull(self.name, bars[list(INTRADAY_BAR_COLUMNS)])

    def latest_quotes(self, symbols: Sequence[str], as_of: dt.datetime) -> list[dict[str, object]]:
        """The last tick at or before `as_of` per symbol, with change versus the prior close."""
        as_of_ts = pd.Timestamp(as_of)
        as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tzinfo is None else as_of_ts
        day = calendar.trading_day_of(as_of_ts)
        sessions = calendar.sessions_between(day - dt.timedelta(days=10), day)
        if not sessions:
            return []
        quotes = []
        for symbol in self.transform_query(symbols, sessions[0], sessions[-1]).symbols:
            quote = self._quote_at(symbol, sessions, as_of_ts)
            if quote is not None:
                quotes.append(quote)
        return quotes

    def _quote_at(
        self, symbol: str, sessions: list[dt.date], as_of: pd.Timestamp
    ) -> dict[str, object] | None:
        bars = self.daily_bars(symbol, sessions[0], sessions[-1])
        for position in range(len(bars) - 1, 0, -1):
            ticks = self.intraday_ticks(symbol, bars.trade_date.iloc[position])
            ticks = ticks[ticks.ts <= as_of]
            if not ticks.empty:
                last, prev_close = ticks.iloc[-1], float(bars.close.iloc[position - 1])
                listing = self.listings.get(symbol)
                change = round(float(last.price) - prev_close, 4)
                return {
                    "symbol": symbol,
                    "ts": last.ts.isoformat(),
                    "price": float(last.price),
                    "volume": int(ticks.volume.sum()),
                    "change": change,
                    "change_pct": round(100 * change / prev_close, 4),
                    "name": listing.name if listing else symbol,
                    "source": self.name,
                }
        return None


def _payloads(
    symbols: list[str],
    owner: np.ndarray,
    texts: np.ndarray,
    day: np.ndarray,
    bars: dict[str, np.ndarray],
) -> np.ndarray:
    """dumps_record's text of each row's clean bar (PAYLOAD_LAYOUT), written column-wise:
    row i is symbols[owner[i]] on the day texts[day[i]]. Large strings: a pull's payloads
    may pass 2 GiB."""
    quoted = json.encoder.encode_basestring_ascii  # how json.dumps writes a string
    values = {
        "symbol": pc.take(pa.array(map(quoted, symbols), _TEXT), owner),
        "trade_date": pc.take(pa.array(map(quoted, texts), _TEXT), day),
        **{name: _float_texts(bars[name]) for name in _PRICES},
        "volume": pc.cast(pa.array(bars["volume"], pa.int64()), _TEXT),
    }
    members = zip(PAYLOAD_LAYOUT.prefixes, PAYLOAD_LAYOUT.members, strict=True)
    pieces = [p for prefix, (_, name, _) in members for p in (_text(prefix), values[name])]
    joined = pc.binary_join_element_wise(*pieces, _text("}"), _text(""))
    return joined.to_numpy(zero_copy_only=False)


def _float_texts(values: np.ndarray) -> pa.Array:
    """repr() of each float, as json.dumps writes it. A price in whole cents (every one the
    simulator makes) is the double nearest to cents / 100, a decimal of at most 15 digits,
    so its repr is that decimal: the units, then the cents without trailing zeros. Any
    other value is written by repr itself."""
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are not whole cents
        cents = np.rint(values * 100)
        whole = (cents / 100 == values) & (cents >= 1) & (cents < 1e15)
    cents = np.where(whole, cents, 0).astype(np.int64)
    units = pc.cast(pa.array(cents // 100), _TEXT)
    texts = pc.binary_join_element_wise(units, _CENTS.take(pa.array(cents % 100)), _text(""))
    if whole.all():
        return texts
    other = pa.array([repr(value) for value in values[~whole].tolist()], _TEXT)
    return pc.replace_with_mask(texts, pa.array(~whole), other)


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, _TEXT)


def _anchor_session() -> dt.date:
    return calendar.sessions_between(PRICE_ANCHOR, PRICE_ANCHOR + dt.timedelta(days=10))[0]


def _jump_threshold() -> float:
    """|z| cut-off so that a standard normal exceeds it with _JUMP_PROBABILITY."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - _JUMP_PROBABILITY / 2)


def _cents(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(values, 2), 0.01)


def _bent_path(
    rng: np.random.Generator, n: int, open_: float, high: float, low: float, close: float
) -> np.ndarray:
    if n == 1:
        return np.array([close])
    steps = rng.standard_normal(n - 1)
    walk = np.concatenate([[0.0], np.cumsum(steps)])
    bridge = walk - np.linspace(0, walk[-1], n)  # starts and ends at 0
    scale = max(high - low, 0.01)
    path = np.linspace(open_, close, n) + bridge / max(np.ptp(bridge), 1e-9) * scale
    top, bottom = max(open_, close), min(open_, close)
    inner = slice(1, n - 1)
    if n > 2:
        # Make sure the path reaches both extremes somewhere strictly inside the session.
        path[1 + int(np.argmax(path[inner]))] = max(path[inner].max(), top + 1e-9)
        path[1 + int(np.argmin(path[inner]))] = min(path[inner].min(), bottom - 1e-9)
    path[0], path[-1] = open_, close
    above, below = path > top, path < bottom
    if above.any():
        path[above] = top + (path[above] - top) * (high - top) / (path[above].max() - top)
    if below.any():
        path[below] = bottom - (bottom - path[below]) * (bottom - low) / (
            bottom - path[below].min()
        )
    path = np.round(path, 4)
    path[0], path[-1] = open_, close
    path[int(np.argmax(path))] = high
    path[int(np.argmin(path))] = low
    return path


def _split_integer(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to weights that sum exactly to total (largest remainder)."""
    raw = total * weights / weights.sum()
    parts = np.floor(raw).astype(np.int64)
    remainder = total - int(parts.sum())
    if remainder:
        parts[np.argsort(raw - parts)[::-1][:remainder]] += 1
    return parts


def _inject(fault: str, record: dict[str, object]) -> str:
    """Corrupt a record the way real feeds do (the duplicate fault keeps it intact)."""
    bad = dict(record)
    if fault == "missing_close":
        del bad["close"]
    elif fault == "non_numeric_price":
        bad["close"] = "N/A"
    elif fault == "negative_price":
        bad["close"] = -float(record["close"])
    elif fault == "zero_price":
        bad["open"] = 0.0
    elif fault == "high_below_low":
        bad["high"], bad["low"] = record["low"], record["high"]
        if bad["high"] == bad["low"]:
            bad["high"] = float(record["low"]) - 0.01
    elif fault == "nan_price":
        bad["high"] = float("nan")
    elif fault == "infinite_price":
        bad["low"] = float("-inf")
    elif fault == "negative_volume":
        bad["volume"] = -int(record["volume"]) - 1
    elif fault == "truncated_json":
        text = json.dumps(record)
        return text[: len(text) // 2]
    return dumps_record(bad)
