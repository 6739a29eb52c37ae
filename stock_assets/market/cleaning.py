"""Bronze -> silver: parse raw records, type and validate them, keep the good, explain the bad.

Every source's records go through the same rules, so a price in silver means the same
thing whatever provider it came from. A rejected record never takes a good one with it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stock_assets.market import calendar
from stock_assets.market.schemas import PRICE_REJECTS, PRICES, RAW_QUOTES, conform
from stock_assets.market.sources import RecordError, parser_for
from stock_assets.market.sources.base import BAR_FIELDS
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")


@dataclass(frozen=True)
class CleanResult:
    prices: pd.DataFrame
    rejects: pd.DataFrame
    superseded: int  # valid records replaced by a later record for the same symbol and day


def clean_prices(raw_quotes: pd.DataFrame, ingested_at: dt.datetime) -> CleanResult:
    """Turn bronze.raw_quotes rows into silver.prices rows plus rejects with reasons."""
    raw = raw_quotes.reset_index(drop=True)
    if raw.empty:
        return CleanResult(PRICES.empty_frame(), PRICE_REJECTS.empty_frame(), 0)
    fields, reasons = _parse_payloads(raw)
    _check_symbols(raw, fields, reasons)
    _check_dates(raw, fields, reasons)
    numbers = _check_numbers(fields, reasons)
    _check_bar_consistency(numbers, reasons)

    ok = np.array([not r for r in reasons])
    rejects = _rejects_frame(raw, reasons, ~ok)
    good = pd.DataFrame(
        {
            "symbol": raw["symbol"][ok].to_numpy(),
            "trade_date": fields["trade_date"][ok].to_numpy(),
            **{name: numbers[name][ok].to_numpy() for name in (*PRICE_FIELDS, "volume")},
            "source": raw["source"][ok].to_numpy(),
            "fetched_at": pd.to_datetime(raw["fetched_at"][ok]).to_numpy(),
            "record_no": raw["record_no"][ok].to_numpy(),
        }
    )
    # The latest record for a symbol and day wins: that is how corrections land.
    good = good.sort_values(["symbol", "trade_date", "fetched_at", "record_no"], kind="stable")
    deduped = good.drop_duplicates(["symbol", "trade_date"], keep="last")
    deduped = deduped.assign(ingested_at=pd.Timestamp(ingested_at))
    return CleanResult(
        prices=conform(deduped, PRICES),
        rejects=rejects,
        superseded=len(good) - len(deduped),
    )


def _parse_payloads(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[list[str]]]:
    rows: list[dict[str, object]] = []
    reasons: list[list[str]] = []
    parsers = {name: parser_for(name) for name in raw["source"].unique()}
    for source, payload in zip(raw["source"], raw["payload"], strict=True):
        try:
            rows.append(parsers[source](payload))
            reasons.append([])
        except RecordError as exc:
            rows.append({})
            reasons.append([str(exc)])
    # Object dtype keeps a parser's None (no value: adj_close falls back to close) apart
    # from a NaN the payload holds; a float column would turn every None into NaN.
    fields = pd.DataFrame(rows, columns=list(BAR_FIELDS), dtype=object)
    return fields, reasons


def _check_symbols(raw: pd.DataFrame, fields: pd.DataFrame, reasons: list[list[str]]) -> None:
    for i, (row_symbol, claimed) in enumerate(zip(raw["symbol"], fields["symbol"], strict=True)):
        if reasons[i]:
            continue
        try:
            symbol = normalize_symbol(row_symbol)
            if claimed is not None and normalize_symbol(claimed) != symbol:
                reasons[i].append(f"payload symbol {claimed!r} does not match {symbol!r}")
        except InvalidSymbolError as exc:
            reasons[i].append(str(exc))


def _check_dates(raw: pd.DataFrame, fields: pd.DataFrame, reasons: list[list[str]]) -> None:
    text = fields["trade_date"].astype("string").str.slice(0, 10)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    fields["trade_date"] = parsed.dt.date
    pulled_for = pd.to_datetime(raw["trade_date"]).dt.date
    # A history holds few distinct days per many rows: ask the calendar once per day.
    closed = {
        day: calendar.non_session_reason(day) for day in fields["trade_date"].dropna().unique()
    }
    for i, (day, expected) in enumerate(zip(fields["trade_date"], pulled_for, strict=True)):
        if reasons[i]:
            continue
        if pd.isna(day):
            reasons[i].append(f"trade date {text.iloc[i]!r} is not a YYYY-MM-DD date")
        elif (why := closed[day]) is not None:
            # Before the pull check: a holiday bar is filed under the pull's last session.
            reasons[i].append(why)
        elif day != expected:
            reasons[i].append(f"record is dated {day} but was pulled for {expected}")


def _check_numbers(fields: pd.DataFrame, reasons: list[list[str]]) -> dict[str, pd.Series]:
    numbers: dict[str, pd.Series] = {}
    adj_close = fields["adj_close"].astype(object)
    adj_missing = adj_close.isna() & ~adj_close.map(_is_nan_float)
    fields["adj_close"] = adj_close.where(~adj_missing, fields["close"].astype(object))
    for name in (*PRICE_FIELDS, "volume"):
        values = pd.to_numeric(fields[name], errors="coerce").astype("float64")
        if name == "volume":
            bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
        else:
            bad = ~np.isfinite(values) | (values <= 0)
        for i in np.flatnonzero(bad.to_numpy()):
            if not reasons[i]:
                reasons[i].append(_number_problem(name, fields[name].iloc[i]))
        numbers[name] = values
    return numbers


def _check_bar_consistency(numbers: dict[str, pd.Series], reasons: list[list[str]]) -> None:
    o, h, low, c = (numbers[k] for k in ("open", "high", "low", "close"))
    high_bad = (h < np.maximum(o, c)) | (h < low)
    low_bad = low > np.minimum(o, c)
    for i in np.flatnonzero((high_bad | low_bad).to_numpy()):
        if reasons[i]:
            continue
        if h.iloc[i] < low.iloc[i]:
            reasons[i].append(f"high {h.iloc[i]} is below low {low.iloc[i]}")
        elif high_bad.iloc[i]:
            reasons[i].append(f"high {h.iloc[i]} is below open/close {max(o.iloc[i], c.iloc[i])}")
        else:
            reasons[i].append(f"low {low.iloc[i]} is above open/close {min(o.iloc[i], c.iloc[i])}")


def _is_nan_float(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _number_problem(name: str, value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"{name} is missing"
    if _is_nan_float(value):
        return f"{name} is NaN"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return f"{name} is not a number: {value!r}"
    if math.isnan(number):
        return f"{name} is NaN"
    if math.isinf(number):
        return f"{name} is infinite"
    if name == "volume":
        if number < 0:
            return f"volume must not be negative, got {value!r}"
        return f"volume must be a whole number, got {value!r}"
    return f"{name} must be positive, got {value!r}"


def _rejects_frame(raw: pd.DataFrame, reasons: list[list[str]], mask: np.ndarray) -> pd.DataFrame:
    if not mask.any():
        return PRICE_REJECTS.empty_frame()
    bad = raw.loc[mask, [c for c in RAW_QUOTES.column_names if c != "fetched_at"]]
    bad = bad.assign(reason=["; ".join(r) for r, m in zip(reasons, mask, strict=True) if m])
    return conform(bad, PRICE_REJECTS)
