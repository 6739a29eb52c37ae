"""Properties of parsing and cleaning that must hold for every input, not just the catalogue.

Runs derandomized (fixed seeds, no example database), so the counts recorded in the report
are the same on every run. The landing strategies come from the landing parser's own tests;
the properties here add what those do not check: where a reject points, the contract of
every accepted row, CSV in other writers' dialects, and the cleaning rules against an
independent oracle.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import math
import random
from collections import Counter
from collections.abc import Callable

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stock_assets.market import calendar
from stock_assets.market.cleaning import PRICE_FIELDS, clean_prices
from stock_assets.market.landing import (
    EARLIEST_TS,
    RAW_LIMIT,
    STREAM_COLUMNS,
    LandingParse,
    parse_landing_object,
    reject_message,
)
from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets.market.symbols import normalize_symbol
from stock_assets_tests.market.landing.strategies import (
    FAR_NOW,
    encode_mixed,
    junk_lines,
    junk_rows,
    landed_rows,
    quotes,
)

AREA = "property"
EXAMPLES = 80
DETERMINISTIC = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Record = Callable[[str, str, str], None]

# -- landing parser ----------------------------------------------------------------------------


def assert_contract(result: LandingParse, latest: dt.datetime) -> None:
    """Every accepted row is a quote the contract allows: nothing bad slips through."""
    quotes_ = result.quotes
    assert tuple(quotes_.columns) == STREAM_COLUMNS
    for row in quotes_.itertuples():
        assert normalize_symbol(row.symbol) == row.symbol
        assert math.isfinite(row.price) and row.price > 0
        assert pd.isna(row.volume) or 0 <= row.volume <= 2**63 - 1
        assert all(pd.isna(v) or math.isfinite(v) for v in (row.change, row.change_pct))
        assert EARLIEST_TS.replace(tzinfo=None) <= row.ts <= latest.replace(tzinfo=None)
        assert isinstance(row.source, str) and row.source


def csv_records(body: bytes) -> list[str]:
    """Each CSV data row's text, found independently of the parser (csv module line counts)."""
    text = body.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = io.StringIO(text, newline="").readlines()  # split as the reader splits
    next(reader)
    rows, start = [], reader.line_num
    for _ in reader:
        rows.append("".join(lines[start : reader.line_num]).rstrip("\r\n"))
        start = reader.line_num
    return rows


def test_rejects_point_at_their_record_and_accepted_rows_keep_the_contract(
    reliability_record: Record,
):
    seen = Counter()

    @DETERMINISTIC
    @given(st.lists(quotes(), min_size=1, max_size=5), st.sampled_from(["jsonl", "csv"]), st.data())
    def check(batch, fmt, data):
        junk = data.draw(st.lists({"jsonl": junk_lines, "csv": junk_rows}[fmt], max_size=6))
        records = [("good", q, e) for q, e in batch] + [("junk", j, None) for j in junk]
        random.Random(data.draw(st.integers())).shuffle(records)
        key = f"landing/quotes/prop.{fmt}"
        body = encode_mixed(fmt, records)
        result = parse_landing_object(key, body, now=FAR_NOW)
        assert result.fatal is None
        assert_contract(result, FAR_NOW + dt.timedelta(minutes=5))
        if fmt == "jsonl":
            texts = [text.rstrip("\r") for text in body.decode().split("\n")]
        else:
            texts = csv_records(body)
        for reject in result.rejects:
            assert reject_message(key, reject).startswith(f"{key} record {reject.record_no}: ")
            assert records[reject.record_no - 1][0] == "junk"  # the record it names is junk
            located = texts[reject.record_no - 1]
            cut = located if len(located) <= RAW_LIMIT else located[:RAW_LIMIT] + "..."
            assert reject.raw == cut
        seen["examples"] += 1
        seen["rejects"] += len(result.rejects)
        seen["accepted"] += len(result.quotes)

    check()
    reliability_record(
        AREA,
        "landing parser: JSON Lines and CSV objects mixing valid quotes and junk records",
        f"{seen['examples']} generated objects: {seen['rejects']} rejects, each naming the "
        "object and the record number that holds exactly its raw text (and never a valid "
        f"quote); {seen['accepted']} accepted rows, all within the contract",
    )


@st.composite
def csv_dialects(draw) -> dict[str, object]:
    """How other writers spell CSV: quoting, line ends, BOM, column order and names."""
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    quoting = [csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]
    if terminator == "\r\n":  # under LF, Python's minimal quoting leaves a CR bare: ambiguous
        quoting.append(csv.QUOTE_MINIMAL)
    return {
        "quoting": draw(st.sampled_from(quoting)),
        "lineterminator": terminator,
        "bom": draw(st.booleans()),
        "order": draw(st.permutations([*TICK_FIELDS, "exchange"])),
        "ts_name": draw(st.sampled_from(["ts", "timestamp"])),
        "pct_name": draw(st.sampled_from(["change_pct", "changesPercentage"])),
    }


def _csv_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return "" if value is None else value


def test_csv_written_by_other_writers_round_trips(reliability_record: Record):
    seen = Counter()

    @DETERMINISTIC
    @given(st.lists(quotes(), min_size=1, max_size=6), csv_dialects(), st.text(max_size=12))
    def check(batch, dialect, exchange):
        names = {"ts": dialect["ts_name"], "change_pct": dialect["pct_name"]}
        header = [names.get(c, c) for c in dialect["order"]]
        out = io.StringIO()
        writer = csv.writer(
            out, quoting=dialect["quoting"], lineterminator=dialect["lineterminator"]
        )
        writer.writerow(header)
        for quote, _ in batch:
            row = {**quote, "exchange": exchange.replace("\x00", "")}
            writer.writerow([_csv_value(row[c]) for c in dialect["order"]])
        body = (codecs.BOM_UTF8 if dialect["bom"] else b"") + out.getvalue().encode()
        result = parse_landing_object("landing/quotes/other.csv", body, now=FAR_NOW)
        assert result.fatal is None and result.rejects == ()
        assert landed_rows(result) == [expected for _, expected in batch]
        seen["examples"] += 1
        seen["rows"] += len(batch)
        seen["special"] += sum(any(ch in str(q["name"] or "") for ch in ',"\n\r') for q, _ in batch)

    check()
    reliability_record(
        AREA,
        "CSV from other writers: any quoting, LF or CRLF, BOM, shuffled and renamed columns, "
        "an unknown column, names holding commas, quotes and newlines",
        f"{seen['examples']} generated files, {seen['rows']} rows ({seen['special']} with "
        "commas, quotes or line breaks in the name): every row parsed back to exactly its "
        "values, none rejected",
    )


# -- cleaning ----------------------------------------------------------------------------------

SESSIONS = (dt.date(2024, 7, 3), dt.date(2024, 7, 5))
HOLIDAY = dt.date(2024, 7, 4)
FETCHES = (pd.Timestamp("2024-07-05 22:00"), pd.Timestamp("2024-07-06 09:00"))

numbers = st.floats(-1e6, 1e6, allow_nan=False)
bad_numbers = st.sampled_from([float("nan"), float("inf"), float("-inf"), "N/A", "", None])
# Numbers as text the way feeds write them (up to 6 decimals). Text with 17 significant
# digits can come out one ulp off through pandas' parser: a known limit, not checked here.
values = numbers | numbers.map("{:.6f}".format) | st.integers(-5, 10**9) | bad_numbers
dates = st.sampled_from([str(SESSIONS[0]), str(HOLIDAY), "07/05/2024"])


@st.composite
def bronze_records(draw) -> dict[str, object]:
    """One bronze row in the simulator's payload format, good or bad in any field."""
    symbol = draw(st.sampled_from(["AAPL", "MSFT"]))
    day = draw(st.sampled_from(SESSIONS))
    close = draw(st.floats(1, 1000))
    bar = {  # a consistent bar, then some fields replaced by anything
        "symbol": draw(st.sampled_from([symbol, symbol.lower(), "IBM", None])),
        "date": str(day),
        "open": close,
        "high": close * 1.01,
        "low": close * 0.99,
        "close": close,
        "adj_close": close,
        "volume": draw(st.integers(0, 10**9)),
    }
    for name in sorted(draw(st.sets(st.sampled_from([*PRICE_FIELDS, "volume", "date"])))):
        bar[name] = draw(dates if name == "date" else values)
    if draw(st.booleans()) and bar["adj_close"] == close:
        del bar["adj_close"]  # sources without an adjusted close
    payload = json.dumps(bar)
    if draw(st.integers(0, 9)) == 0:
        payload = payload[: len(payload) // 2]  # truncated JSON
    return {
        "symbol": symbol,
        "trade_date": day,
        "payload": payload,
        "source": "simulated",
        "fetched_at": draw(st.sampled_from(FETCHES)),
        "object_key": "bronze/raw_quotes/prop.jsonl",
    }


def _number(value: object) -> float:
    """The oracle's reading of a value: a float, NaN when it is not a number."""
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except ValueError:
        return math.nan


def oracle(row: dict[str, object]) -> dict[str, float] | None:
    """The silver rules, written independently: the typed bar, or None when it is bad."""
    try:
        bar = json.loads(str(row["payload"]))
    except json.JSONDecodeError:
        return None
    claimed = bar.get("symbol")
    if claimed is not None and str(claimed).upper() != row["symbol"]:
        return None
    if bar["date"] != str(row["trade_date"]):
        return None
    if bar.get("adj_close") is None:
        bar["adj_close"] = bar["close"]
    typed = {name: _number(bar.get(name)) for name in (*PRICE_FIELDS, "volume")}
    if not all(math.isfinite(typed[name]) and typed[name] > 0 for name in PRICE_FIELDS):
        return None
    volume = typed["volume"]
    if not (math.isfinite(volume) and volume >= 0 and volume == math.floor(volume)):
        return None
    o, h, low, c = typed["open"], typed["high"], typed["low"], typed["close"]
    if h < max(o, c) or h < low or low > min(o, c):
        return None
    return typed


def test_cleaning_accounts_for_every_record_and_keeps_only_valid_bars(
    reliability_record: Record,
):
    seen = Counter()

    @DETERMINISTIC
    @given(st.lists(bronze_records(), min_size=1, max_size=12))
    def check(rows):
        raw = pd.DataFrame(rows).assign(record_no=range(len(rows)))
        result = clean_prices(raw, ingested_at=dt.datetime(2024, 7, 6, 10, tzinfo=dt.UTC))
        typed = {i: oracle(row) for i, row in enumerate(rows)}

        # Every record is rejected exactly once, or valid: never both, never neither.
        rejected = result.rejects.record_no.tolist()
        assert len(rejected) == len(set(rejected))
        assert sorted(rejected) == sorted(i for i, bar in typed.items() if bar is None)
        assert (result.rejects.reason.str.len() > 0).all()
        valid = [i for i, bar in typed.items() if bar is not None]
        assert result.superseded == len(valid) - len(result.prices)

        # The latest valid record per symbol and day wins, with exactly its values.
        latest = {}
        for i in sorted(valid, key=lambda i: (rows[i]["fetched_at"], i)):
            latest[(rows[i]["symbol"], rows[i]["trade_date"])] = typed[i]
        prices = result.prices
        assert not prices.duplicated(["symbol", "trade_date"]).any()
        assert len(prices) == len(latest)
        for bar in prices.itertuples():
            expected = latest[(bar.symbol, bar.trade_date)]
            assert [getattr(bar, n) for n in (*PRICE_FIELDS, "volume")] == list(expected.values())
            assert calendar.is_session(bar.trade_date)
            assert bar.high >= max(bar.open, bar.close, bar.low) and bar.low <= min(
                bar.open, bar.close
            )
        seen["examples"] += 1
        seen["records"] += len(rows)
        seen["rejected"] += len(rejected)
        seen["superseded"] += result.superseded
        seen["landed"] += len(prices)

    check()
    reliability_record(
        AREA,
        "silver cleaning: bronze records with any field missing, non-numeric, NaN, infinite, "
        "zero or negative, inconsistent OHLC, a holiday or foreign date, another symbol, "
        "truncated JSON, and duplicates",
        f"{seen['examples']} generated batches, {seen['records']} records: "
        f"{seen['rejected']} rejected once each, exactly the ones an independent oracle "
        f"finds bad; {seen['landed']} bars landed (the latest valid record per symbol and "
        f"day, {seen['superseded']} superseded), all OHLC-consistent",
    )
