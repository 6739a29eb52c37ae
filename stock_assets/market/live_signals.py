"""Live signals on the stream (feeds ``gold.live_signals`` and live alerts).

Evaluated on a whole trading day of one symbol's stored quotes and one-minute bars, so the
result depends only on which quotes arrived, never on the order or the batches they came
in; each arrivals run re-evaluates the days its quotes touched. A signal fires once per
condition *crossing*: on the first quote (or bar) where the condition holds after one
where it did not, the first of the day included. Its ``ts`` is the quote that triggered
it; ``detected_at`` is when that quote was ingested.

* ``MOVE``: price more than ``move_pct`` (strict) above or below the previous session's
  close; up and down are separate conditions. ``value`` is the percent change.
* ``CROSS_UP`` / ``CROSS_DOWN``: SMA-5 crosses above / below SMA-20 of the session's
  one-minute closes, judged on completed bars (every bar but the symbol's newest, which
  still moves, unless it is the session's last minute); equality within a relative 1e-9
  is no side. ``ts`` is the last quote of the crossing bar, ``value`` its close.
* ``VOLUME_SURGE``: a bar's volume above ``surge_ratio`` x the mean volume of the same
  minute of the session over the previous ``baseline_sessions`` sessions (at least
  ``min_baseline_sessions`` of them, or nothing fires). A bar's volume only grows, so a
  partial bar counts; ``ts`` is the quote at which the bar's running volume passed the
  threshold, ``value`` the ratio. Consecutive surging minutes are one crossing.
* ``RULE``: a user rule (``market.alert_rules``) crossing; ``rule`` names it.

The previous close comes from ``silver.prices`` (the previous session's close); without it,
from the day's first quote carrying ``change`` (price - change).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from stock_assets.market import calendar
from stock_assets.market.alert_rules import (
    CHANGE_PCT_ABOVE,
    CHANGE_PCT_BELOW,
    MOVE_BEYOND,
    PRICE_ABOVE,
    PRICE_BELOW,
    AlertRule,
)

MOVE: Final = "MOVE"
CROSS_UP: Final = "CROSS_UP"
CROSS_DOWN: Final = "CROSS_DOWN"
VOLUME_SURGE: Final = "VOLUME_SURGE"
RULE: Final = "RULE"
LIVE_SIGNAL_TYPES: Final = (MOVE, CROSS_UP, CROSS_DOWN, VOLUME_SURGE, RULE)
COLUMNS: Final = ("symbol", "trade_date", "ts", "signal", "rule", "value", "reason", "detected_at")
_REL_TOL: Final = 1e-9
_MINUTE = np.timedelta64(60, "s")


@dataclass(frozen=True)
class LiveThresholds:
    move_pct: float = 5.0
    surge_ratio: float = 3.0
    baseline_sessions: int = 20
    min_baseline_sessions: int = 5
    fast_window: int = 5
    slow_window: int = 20


def with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """trade_date as datetime.date whatever the store returned (DATE may read as datetime64;
    an empty read too, so comparing it with a date still works)."""
    if not pd.api.types.is_datetime64_any_dtype(frame.trade_date):
        return frame
    return frame.assign(trade_date=frame.trade_date.dt.date)


def first_crossings(condition: np.ndarray, group_starts: np.ndarray) -> np.ndarray:
    """True where `condition` holds and did not on the previous row of the same group."""
    previous = np.concatenate([[False], condition[:-1]])
    previous[group_starts] = False
    return condition & ~previous


def _group_starts(keys: pd.DataFrame) -> np.ndarray:
    """Positions where a new group begins in rows sorted by those keys."""
    if keys.empty:
        return np.zeros(0, dtype=bool)
    changed = np.ones(len(keys), dtype=bool)
    changed[1:] = False
    for name in keys.columns:  # neighbours compared in NumPy: pandas' shift costs ~10x more
        values = keys[name].to_numpy()
        changed[1:] |= values[1:] != values[:-1]
    return changed


def previous_closes(quotes: pd.DataFrame, daily_closes: pd.DataFrame) -> pd.DataFrame:
    """Per (symbol, trade_date): the previous session's close (see module docstring), of
    quotes sorted by (symbol, trade_date, ts)."""
    days = _first_of_each_day(quotes)[["symbol", "trade_date"]]
    if days.empty:
        return days.assign(prev_close=pd.Series(dtype="float64"))
    days = days.assign(prev_day=[calendar.previous_session(d) for d in days.trade_date])
    known = daily_closes.rename(columns={"trade_date": "prev_day", "close": "prev_close"})
    days = days.merge(known[["symbol", "prev_day", "prev_close"]], how="left")
    first = _first_of_each_day(quotes.dropna(subset=["change"]))
    implied = first.assign(implied=first.price - first.change)[["symbol", "trade_date", "implied"]]
    days = days.merge(implied, how="left")
    days["prev_close"] = days.prev_close.fillna(days.implied)
    return days[["symbol", "trade_date", "prev_close"]]


def _first_of_each_day(quotes: pd.DataFrame) -> pd.DataFrame:
    """The first row of each (symbol, trade_date) of rows sorted by them."""
    return quotes.iloc[np.flatnonzero(_group_starts(quotes[["symbol", "trade_date"]]))]


def with_prev_close(quotes: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """Quotes sorted by (symbol, trade_date, ts), each with its symbol-day's prev_close
    (joined once per symbol-day, then repeated over its quotes)."""
    first = np.flatnonzero(_group_starts(quotes[["symbol", "trade_date"]]))
    heads = quotes.iloc[first][["symbol", "trade_date"]]
    closes = heads.merge(prev, how="left", on=["symbol", "trade_date"]).prev_close.to_numpy()
    sizes = np.diff(np.append(first, len(quotes)))
    return quotes.assign(prev_close=np.repeat(closes.astype("float64"), sizes))


def percent_change(rows: pd.DataFrame) -> np.ndarray:
    """Percent from the previous close; the difference first, so 100 -> 105 is exactly 5."""
    price, prev = rows.price.to_numpy("float64"), rows.prev_close.to_numpy("float64")
    return (price - prev) * 100.0 / prev


def _signals(
    rows: pd.DataFrame, mask: np.ndarray, signal: str, value: np.ndarray, reasons: list[str]
) -> pd.DataFrame:
    hit = rows[mask]
    return pd.DataFrame(
        {
            "symbol": hit.symbol.to_numpy(),
            "trade_date": hit.trade_date.to_numpy(),
            "ts": hit.ts.to_numpy(),
            "signal": signal,
            "rule": None,
            "value": value[mask],
            "reason": reasons,
            "detected_at": hit.ingested_at.to_numpy(),
        }
    )


def move_signals(quotes: pd.DataFrame, prev: pd.DataFrame, pct: float) -> pd.DataFrame:
    """MOVE crossings on quotes sorted by (symbol, trade_date, ts)."""
    rows = with_prev_close(quotes, prev)
    change = percent_change(rows)
    starts = _group_starts(rows[["symbol", "trade_date"]])
    frames = []
    for side, condition in (("up", change > pct), ("down", change < -pct)):
        fired = first_crossings(condition, starts)
        reasons = [
            f"{p:+.2f}% from the previous close {c:g} (moved {side} more than {pct:g}%)"
            for p, c in zip(change[fired], rows.prev_close.to_numpy()[fired], strict=True)
        ]
        frames.append(_signals(rows, fired, MOVE, change, reasons))
    return pd.concat(frames, ignore_index=True)


def _bar_trigger_quotes(quotes: pd.DataFrame) -> pd.DataFrame:
    """Each quote's bar (floor of ts to the minute)."""
    return quotes.assign(bar_start=quotes.ts.dt.floor("min"))


def completed_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars that can no longer change: all but each symbol-day's newest, unless it is the
    session's last minute."""
    if bars.empty:
        return bars
    bars = bars.sort_values(["symbol", "trade_date", "bar_start"])
    newest = ~bars.duplicated(["symbol", "trade_date"], keep="last")
    last_minute = {
        day: np.datetime64(calendar.market_close_utc(day).tz_localize(None), "us") - _MINUTE
        for day in bars.trade_date.unique()
    }
    final = bars.bar_start.to_numpy() >= bars.trade_date.map(last_minute).to_numpy()
    return bars[~newest.to_numpy() | final]


def rolling_means(values: np.ndarray, group_starts: np.ndarray, window: int) -> np.ndarray:
    """Each row's mean of its group's last `window` values (rows sorted by group), NaN
    until the group has that many: pandas' rolling(window).mean() per group, without a
    Python call per group."""
    means = np.full(len(values), np.nan)
    if len(values) < window:
        return means
    rows = np.arange(len(values))
    group_first = np.maximum.accumulate(np.where(group_starts, rows, 0))
    means[window - 1 :] = sliding_window_view(values, window).mean(axis=1)
    means[rows - group_first < window - 1] = np.nan
    return means


def cross_signals(quotes: pd.DataFrame, bars: pd.DataFrame, t: LiveThresholds) -> pd.DataFrame:
    """CROSS_UP / CROSS_DOWN of SMA-fast vs SMA-slow on completed one-minute closes."""
    done = completed_bars(bars).reset_index(drop=True)
    if done.empty:
        return pd.DataFrame(columns=COLUMNS)
    starts = _group_starts(done[["symbol", "trade_date"]])
    closes = done.close.to_numpy(dtype="float64")
    fast = rolling_means(closes, starts, t.fast_window)
    slow = rolling_means(closes, starts, t.slow_window)
    side = np.where(np.abs(fast - slow) <= _REL_TOL * np.abs(slow), 0.0, np.sign(fast - slow))
    evaluable = ~np.isnan(side)
    # A crossing needs the previous bar to be evaluable too: the first SMA-slow bar is no cross.
    prev_evaluable = np.concatenate([[False], evaluable[:-1]])
    prev_evaluable[starts] = False
    last_quote = (
        _bar_trigger_quotes(quotes)
        .groupby(["symbol", "bar_start"], as_index=False)
        .agg(ts=("ts", "max"), ingested_at=("ingested_at", "max"))
    )
    rows = done.merge(last_quote, how="left", on=["symbol", "bar_start"])
    rows["ts"] = rows.ts.fillna(rows.bar_start)
    frames = []
    for signal, condition, word in ((CROSS_UP, side > 0, "above"), (CROSS_DOWN, side < 0, "below")):
        fired = first_crossings(condition & evaluable, starts) & prev_evaluable
        reasons = [
            f"SMA-{t.fast_window} {f:.4f} crossed {word} SMA-{t.slow_window} {s:.4f}"
            f" on the {b:%H:%M} UTC bar"
            for f, s, b in zip(fast[fired], slow[fired], rows.bar_start[fired], strict=True)
        ]
        frames.append(_signals(rows, fired, signal, rows.close.to_numpy(), reasons))
    return pd.concat(frames, ignore_index=True)


def minute_of_session(bar_start: pd.Series, trade_date: pd.Series) -> np.ndarray:
    """Whole minutes from the session's open to each bar's start."""
    opens = {
        day: np.datetime64(calendar.market_open_utc(day).tz_localize(None), "us")
        for day in trade_date.unique()
    }
    start = trade_date.map(opens).to_numpy(dtype="datetime64[us]")
    return ((bar_start.to_numpy(dtype="datetime64[us]") - start) // _MINUTE).astype("int64")


def minute_volume_baseline(history: pd.DataFrame, sessions: int) -> pd.DataFrame:
    """Mean bar volume per (symbol, minute of session) over each symbol's last `sessions`
    sessions in `history` (bars of earlier days only)."""
    if history.empty:
        return pd.DataFrame(columns=["symbol", "minute", "avg_volume", "sessions"])
    history = with_dates(history)
    days = history[["symbol", "trade_date"]].drop_duplicates()
    recent = days.sort_values("trade_date").groupby("symbol").tail(sessions)
    bars = history.merge(recent, on=["symbol", "trade_date"])
    bars = bars.assign(minute=minute_of_session(bars.bar_start, bars.trade_date))
    return bars.groupby(["symbol", "minute"], as_index=False).agg(
        avg_volume=("volume", "mean"), sessions=("trade_date", "nunique")
    )


def volume_surge_signals(
    quotes: pd.DataFrame, bars: pd.DataFrame, baseline: pd.DataFrame, t: LiveThresholds
) -> pd.DataFrame:
    """VOLUME_SURGE crossings over a symbol-day's consecutive minutes."""
    if bars.empty or baseline.empty:
        return pd.DataFrame(columns=COLUMNS)
    bars = bars.sort_values(["symbol", "trade_date", "bar_start"]).reset_index(drop=True)
    bars = bars.assign(minute=minute_of_session(bars.bar_start, bars.trade_date))
    usual = baseline[["symbol", "minute", "avg_volume", "sessions"]]  # not its trade_date
    bars = bars.merge(usual, how="left", on=["symbol", "minute"])
    usable = (bars.sessions >= t.min_baseline_sessions) & (bars.avg_volume > 0)
    threshold = t.surge_ratio * bars.avg_volume
    surging = (usable & (bars.volume > threshold)).to_numpy()
    # Consecutive minutes of one symbol-day form one condition; a gap starts a new one.
    adjacent = (bars.minute.diff() == 1) & ~_group_starts(bars[["symbol", "trade_date"]])
    fired_bars = bars[first_crossings(surging, ~adjacent.to_numpy())]
    if fired_bars.empty:
        return pd.DataFrame(columns=COLUMNS)
    # The trigger: the bar's first quote whose running volume passed the threshold.
    in_bar = _bar_trigger_quotes(quotes).merge(
        fired_bars.assign(limit=threshold[fired_bars.index])[
            ["symbol", "bar_start", "volume", "limit", "avg_volume"]
        ].rename(columns={"volume": "bar_volume"}),
        on=["symbol", "bar_start"],
    )
    in_bar = in_bar.sort_values(["symbol", "bar_start", "ts"])
    bar_end_volume = in_bar.groupby(["symbol", "bar_start"]).volume.transform("max")
    running = in_bar.volume - (bar_end_volume - in_bar.bar_volume)
    trigger = in_bar[running.to_numpy() > in_bar.limit.to_numpy()]
    trigger = trigger.drop_duplicates(["symbol", "bar_start"])
    ratio = (trigger.bar_volume / trigger.avg_volume).to_numpy(dtype="float64")
    reasons = [
        f"{v:,.0f} shares in the {b:%H:%M} UTC minute, {r:.1f}x its {t.baseline_sessions}-session"
        " average"
        for v, b, r in zip(trigger.bar_volume, trigger.bar_start, ratio, strict=True)
    ]
    return _signals(trigger, np.ones(len(trigger), dtype=bool), VOLUME_SURGE, ratio, reasons)


def rule_signals(
    quotes: pd.DataFrame, prev: pd.DataFrame, rules: Sequence[AlertRule]
) -> pd.DataFrame:
    """RULE crossings per rule and symbol-day, with each rule's quiet period (quotes
    sorted by (symbol, trade_date, ts))."""
    if not rules:
        return pd.DataFrame(columns=COLUMNS)
    rows = with_prev_close(quotes, prev)
    change = percent_change(rows)
    price = rows.price.to_numpy(dtype="float64")
    starts = _group_starts(rows[["symbol", "trade_date"]])
    frames = []
    for rule in rules:
        condition = {
            PRICE_ABOVE: price > rule.level,
            PRICE_BELOW: price < rule.level,
            CHANGE_PCT_ABOVE: change > rule.level,
            CHANGE_PCT_BELOW: change < rule.level,
            MOVE_BEYOND: np.abs(change) > rule.level,
        }[rule.condition]
        applies = rows.symbol.map(rule.applies_to).to_numpy(dtype=bool)
        fired = first_crossings(condition & applies, starts)
        fired = _outside_quiet_period(rows, fired, rule.quiet_minutes)
        value = price if rule.on_price else change
        reasons = [f"{rule.name}: {rule.describe()} (now {v:.4g})" for v in value[fired]]
        found = _signals(rows, fired, RULE, value, reasons)
        frames.append(found.assign(rule=rule.name))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _outside_quiet_period(rows: pd.DataFrame, fired: np.ndarray, quiet_minutes: int) -> np.ndarray:
    if quiet_minutes <= 0 or not fired.any():
        return fired
    kept = fired.copy()
    quiet = np.timedelta64(quiet_minutes * 60, "s")
    last: dict[tuple[str, dt.date], np.datetime64] = {}
    for i in np.flatnonzero(fired):
        key = (rows.symbol.iat[i], rows.trade_date.iat[i])
        ts = rows.ts.to_numpy()[i]
        if key in last and ts - last[key] < quiet:
            kept[i] = False
            continue
        last[key] = ts
    return kept


def detect_live_signals(
    quotes: pd.DataFrame,
    bars: pd.DataFrame,
    daily_closes: pd.DataFrame,
    baseline: pd.DataFrame,
    rules: Sequence[AlertRule] = (),
    thresholds: LiveThresholds = LiveThresholds(),
) -> pd.DataFrame:
    """Every live signal of the given symbol-days (see the module docstring).

    quotes: symbol, trade_date, ts, price, volume, change, ingested_at (stream history);
    bars: symbol, trade_date, bar_start, close, volume (one-minute bars of those days);
    daily_closes: symbol, trade_date, close (silver.prices of the previous sessions);
    baseline: ``minute_volume_baseline`` of the bars of earlier sessions.
    """
    quotes, daily_closes = with_dates(quotes), with_dates(daily_closes)
    bars = with_dates(bars)[["symbol", "trade_date", "bar_start", "close", "volume"]]
    used = ["symbol", "trade_date", "ts", "price", "volume", "change", "ingested_at"]
    quotes = _sorted_unique(quotes[[c for c in used if c in quotes.columns]])
    prev = previous_closes(quotes, daily_closes)
    found = [
        move_signals(quotes, prev, thresholds.move_pct),
        cross_signals(quotes, bars, thresholds),
        volume_surge_signals(quotes, bars, baseline, thresholds),
        rule_signals(quotes, prev, rules),
    ]
    found = [f for f in found if not f.empty]
    if not found:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    frame = pd.concat(found, ignore_index=True)
    frame = frame.sort_values(["trade_date", "symbol", "ts", "signal", "rule"], kind="stable")
    return frame[list(COLUMNS)].reset_index(drop=True)


def _sorted_unique(quotes: pd.DataFrame) -> pd.DataFrame:
    """Quotes sorted by (symbol, trade_date, ts), stably; of each (symbol, ts) the first.

    Sorted on integer codes: sorting and deduplicating on the object columns themselves
    costs most of an evaluation of 10^5 quotes."""
    symbols = pd.factorize(quotes["symbol"], sort=True)[0]
    days = pd.factorize(quotes["trade_date"], sort=True)[0]
    ts = quotes["ts"].to_numpy()
    order = np.lexsort((ts, days, symbols))  # stable: equal keys keep their order
    symbols, ts = symbols[order], ts[order]
    repeated = np.zeros(len(order), dtype=bool)
    repeated[1:] = (symbols[1:] == symbols[:-1]) & (ts[1:] == ts[:-1])
    return quotes.iloc[order[~repeated]].reset_index(drop=True)


SIGNAL_KEY: Final = ("symbol", "ts", "signal", "rule")


def with_detection_times(
    stored: pd.DataFrame, found: pd.DataFrame, now: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's signals to store, and those among them not stored before (to alert).

    A signal already stored keeps its detected_at; a new one is detected `now` (UTC). A
    stored signal that the complete quotes no longer produce (a late quote moved a
    crossing) is dropped with the day's other rows."""
    moment = pd.Timestamp(now).tz_convert("UTC").tz_localize(None)

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            ts=pd.to_datetime(frame["ts"]), rule=frame["rule"].where(frame["rule"].notna(), "")
        )

    found = keyed(found.drop(columns="detected_at"))
    known = keyed(stored)[[*SIGNAL_KEY, "detected_at"]] if not stored.empty else None
    if known is None:
        merged = found.assign(detected_at=moment, _merge="left_only")
    else:
        merged = found.merge(known, how="left", on=list(SIGNAL_KEY), indicator=True)
        merged["detected_at"] = pd.to_datetime(merged["detected_at"]).fillna(moment)
    merged["rule"] = merged["rule"].replace("", None)
    new = merged[merged["_merge"] == "left_only"]
    return merged[list(COLUMNS)], new[list(COLUMNS)].reset_index(drop=True)
