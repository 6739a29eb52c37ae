"""Bronze -> silver: parse raw records, type and validate them, keep the good, explain the bad.

Every source's records go through the same rules, so a price in silver means the same
thing whatever provider it came from. A rejected record never takes a good one with it.

A history load cleans millions of records, so the work is column-wise: payloads in their
source's PayloadLayout are read all at once (the others one by one by the source's parser,
with the same result), and each rule is worked out once per distinct value (a history
holds few symbols and days per many rows). A record has at most one reason: the first
rule it breaks, in the order of the checks below.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stock_assets.market import calendar
from stock_assets.market.arrowtext import char_positions, text_spans, to_numpy
from stock_assets.market.schemas import PRICE_REJECTS, PRICES, RAW_QUOTES, conform
from stock_assets.market.sources import RecordError, parser_for, source_class
from stock_assets.market.sources.base import BAR_FIELDS, PayloadLayout
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")
# Types whose equal values read alike, so that a rule can be worked out once per value.
_PLAIN_TYPES = frozenset({str, dt.date, type(None)})


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

    ok = pd.isna(reasons)
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


# -- parsing ---------------------------------------------------------------------------------


# Payloads read in bulk at a time: the Arrow copy, comma positions and tokens of a ten-year
# pull (1.26M payloads) at once made the silver step's peak memory.
LAYOUT_CHUNK = 200_000


def _parse_payloads(raw: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """BAR_FIELDS of every record as its source's parser gives them, and the reason (or
    None) per record."""
    # Object columns keep a parser's None (no value: adj_close falls back to close) apart
    # from a NaN the payload holds; a float column would turn every None into NaN. A field
    # no parser gave is NaN, as in a frame made from the parsers' dicts.
    columns = {name: np.full(len(raw), np.nan, dtype=object) for name in BAR_FIELDS}
    reasons = np.full(len(raw), None, dtype=object)
    payloads = raw["payload"].to_numpy(dtype=object)
    sources = raw["source"].to_numpy(dtype=object)
    for source in pd.unique(sources):
        rows = np.flatnonzero(sources == source)
        layout = source_class(source).payload_layout
        if layout is not None:
            read = []
            for start in range(0, len(rows), LAYOUT_CHUNK):
                chunk = rows[start : start + LAYOUT_CHUNK]
                taken, values = _read_layout(layout, payloads[chunk])
                for name, column in values.items():
                    columns[name][chunk[taken]] = column
                read.append(start + taken)
            rows = np.delete(rows, np.concatenate(read)) if read else rows
        parse = parser_for(source)
        for i, payload in zip(rows.tolist(), payloads[rows].tolist(), strict=True):
            try:
                fields = parse(payload)
            except RecordError as exc:
                reasons[i] = str(exc)
                continue
            for name, value in fields.items():
                if name in columns:
                    columns[name][i] = value
    return pd.DataFrame(columns, columns=list(BAR_FIELDS), dtype=object), reasons


def _read_layout(
    layout: PayloadLayout, payloads: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which payloads are in `layout` (positions), and their fields column-wise, as the
    source's parser gives them (json.loads' str, float and int).

    A payload in the layout has one comma per member after the first and no other, so the
    commas cut it into its members; each value follows its member's known prefix.
    """
    nothing: tuple[np.ndarray, dict[str, np.ndarray]] = (np.empty(0, np.int64), {})
    strings = np.flatnonzero(_of_types(payloads, frozenset({str})))  # None, bytes: parser's
    try:
        texts = pa.array(payloads[strings], pa.large_string())
    except UnicodeEncodeError:  # lone surrogates, which json.loads reads as they are
        return nothing
    matched = np.flatnonzero(to_numpy(pc.match_substring_regex(texts, f"^{layout.pattern}$")))
    if not len(matched):
        return nothing
    offsets = np.frombuffer(texts.buffers()[1], np.int64)
    starts, stops = offsets[matched], offsets[matched + 1]
    data = texts.buffers()[2]
    commas = char_positions(np.frombuffer(data, np.uint8), ",")
    cuts = commas[np.searchsorted(commas, starts)[:, None] + np.arange(len(layout.members) - 1)]
    begins = np.column_stack([starts, cuts]) + [len(p) for p in layout.prefixes]
    ends = np.column_stack([cuts, stops - 1])  # up to the next comma, or the closing brace
    values = {}
    for k, (_, name, kind) in enumerate(layout.members):
        quote = int(kind == "text")  # a text's value is inside its quotes
        tokens = text_spans(data, (begins[:, k] + quote, ends[:, k] - quote))
        values[name] = _LAYOUT_VALUES[kind](tokens)
    return strings[matched], values


def _texts(tokens: pa.Array) -> np.ndarray:
    """Python strings, made once per distinct text."""
    encoded = pc.dictionary_encode(tokens)
    return to_numpy(encoded.dictionary)[to_numpy(encoded.indices)]


# Arrow reads decimal text as correctly rounded doubles, as float() does.
_LAYOUT_VALUES: dict[str, Callable[[pa.Array], np.ndarray]] = {
    "text": _texts,
    "float": lambda tokens: to_numpy(pc.cast(tokens, pa.float64())).astype(object),
    "count": lambda tokens: to_numpy(pc.cast(tokens, pa.int64())).astype(object),
}


# -- checks ----------------------------------------------------------------------------------


def _check_symbols(raw: pd.DataFrame, fields: pd.DataFrame, reasons: np.ndarray) -> None:
    _reject(reasons, _symbol_problem, raw["symbol"], fields["symbol"])


def _symbol_problem(row_symbol: object, claimed: object) -> str | None:
    try:
        symbol = normalize_symbol(row_symbol)
        if claimed is not None and normalize_symbol(claimed) != symbol:
            return f"payload symbol {claimed!r} does not match {symbol!r}"
    except InvalidSymbolError as exc:
        return str(exc)
    return None


def _check_dates(raw: pd.DataFrame, fields: pd.DataFrame, reasons: np.ndarray) -> None:
    """Read the trade date (fields["trade_date"] becomes a date, NaT when unreadable) and
    check it is the session the record was pulled for."""
    text = fields["trade_date"].astype("string")
    codes, distinct = pd.factorize(text)
    sliced = pd.Series(distinct, dtype="string").str.slice(0, 10)
    days = pd.to_datetime(sliced, format="%Y-%m-%d", errors="coerce").dt.date
    days = _take(days.to_numpy(dtype=object), codes, pd.NaT)
    fields["trade_date"] = pd.Series(days, index=fields.index, dtype=object)  # all NaT stays
    pulled_codes, pulled = pd.factorize(raw["trade_date"])
    pulled_for = _take(pd.to_datetime(pd.Series(pulled)).dt.date.to_numpy(), pulled_codes, pd.NaT)
    _reject(
        reasons,
        _date_problem,
        _take(sliced.to_numpy(dtype=object), codes, pd.NA),
        fields["trade_date"],
        pulled_for,
    )


def _date_problem(text: object, day: object, expected: object) -> str | None:
    if pd.isna(day):
        return f"trade date {text!r} is not a YYYY-MM-DD date"
    if (why := calendar.non_session_reason(day)) is not None:
        # Before the pull check: a holiday bar is filed under the pull's last session.
        return why
    if day != expected:
        return f"record is dated {day} but was pulled for {expected}"
    return None


def _check_numbers(fields: pd.DataFrame, reasons: np.ndarray) -> dict[str, pd.Series]:
    numbers: dict[str, pd.Series] = {}
    adj_close = fields["adj_close"].astype(object)
    adj_missing = adj_close.isna().to_numpy()
    adj_missing[adj_missing] = [not _is_nan_float(v) for v in adj_close[adj_missing]]
    fields["adj_close"] = adj_close.where(~adj_missing, fields["close"].astype(object))
    for name in (*PRICE_FIELDS, "volume"):
        values = pd.to_numeric(fields[name], errors="coerce").astype("float64")
        if name == "volume":
            bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
        else:
            bad = ~np.isfinite(values) | (values <= 0)
        for i in np.flatnonzero(bad.to_numpy()):
            if reasons[i] is None:
                reasons[i] = _number_problem(name, fields[name].iloc[i])
        numbers[name] = values
    return numbers


def _check_bar_consistency(numbers: dict[str, pd.Series], reasons: np.ndarray) -> None:
    o, h, low, c = (numbers[k] for k in ("open", "high", "low", "close"))
    high_bad = (h < np.maximum(o, c)) | (h < low)
    low_bad = low > np.minimum(o, c)
    for i in np.flatnonzero((high_bad | low_bad).to_numpy()):
        if reasons[i] is not None:
            continue
        if h.iloc[i] < low.iloc[i]:
            reasons[i] = f"high {h.iloc[i]} is below low {low.iloc[i]}"
        elif high_bad.iloc[i]:
            reasons[i] = f"high {h.iloc[i]} is below open/close {max(o.iloc[i], c.iloc[i])}"
        else:
            reasons[i] = f"low {low.iloc[i]} is above open/close {min(o.iloc[i], c.iloc[i])}"


def _reject(
    reasons: np.ndarray, problem: Callable[..., str | None], *columns: pd.Series | np.ndarray
) -> None:
    """Give each record without a reason yet the one problem(*its values) finds, if any.

    Worked out once per distinct combination of values where each is text, a date or None;
    other values go one by one, as equal ones may still read differently (1, 1.0 and True;
    0.0 and -0.0).
    """
    pending = np.flatnonzero(pd.isna(reasons))
    values = [np.asarray(column, dtype=object)[pending] for column in columns]
    plain = np.logical_and.reduce([_of_types(column, _PLAIN_TYPES) for column in values])
    rows = np.flatnonzero(plain)
    combination = np.zeros(len(rows), np.int64)
    for column in values:
        codes, distinct = pd.factorize(column[rows])  # None is -1
        combination = pd.factorize(combination * (len(distinct) + 1) + codes + 1)[0]
    _, first, inverse = np.unique(combination, return_index=True, return_inverse=True)
    found = np.empty(len(pending), dtype=object)
    found[rows] = _objects([problem(*(c[rows[f]] for c in values)) for f in first])[inverse]
    for j in np.flatnonzero(~plain):
        found[j] = problem(*(column[j] for column in values))
    reasons[pending] = found


def _of_types(values: np.ndarray, types: frozenset[type]) -> np.ndarray:
    """Which values are of one of `types` exactly (not of a subclass)."""
    found = map(types.__contains__, map(type, values))
    return np.fromiter(found, dtype=bool, count=len(values))


def _objects(values: list[object]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _take(distinct: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """distinct[codes] as objects, `missing` where the code is -1 (factorize's NA)."""
    return _objects([*distinct, missing])[codes]


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


def _rejects_frame(raw: pd.DataFrame, reasons: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
    if not mask.any():
        return PRICE_REJECTS.empty_frame()
    bad = raw.loc[mask, [c for c in RAW_QUOTES.column_names if c != "fetched_at"]]
    return conform(bad.assign(reason=reasons[mask]), PRICE_REJECTS)
