"""clean_prices' rules at their edges: the exact reason each broken record gets, values on
either side of a bound, dates with a time or in another format, and what the output keeps
(the ingestion time, an empty input's frames, an input indexed by its own column)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from stock_assets.market.schemas import PRICE_REJECTS
from stock_assets.market.sources.simulated import SimulatedSource
from stock_assets_tests.market.test_cleaning import DAY, GOOD, bronze, clean


def reasons(*payloads: dict) -> list[str | None]:
    """Each payload's reject reason (None when it became a price), in order."""
    result = clean(bronze(*payloads))
    by_record = dict(zip(result.rejects.record_no, result.rejects.reason, strict=True))
    return [by_record.get(i) for i in range(len(payloads))]


# high below the close but above the low: the open/close rule names the close; high equal
# to the low and below the open: below the open, not "below low".
BROKEN_BARS = {
    "high 10.2 is below open/close 10.5": {"open": 10.0, "close": 10.5, "high": 10.2, "low": 9.5},
    "high 10.0 is below open/close 11.0": {"open": 11.0, "close": 10.5, "high": 10.0, "low": 10.0},
    "high 10.4 is below low 10.6": {"open": 10.0, "close": 10.5, "high": 10.4, "low": 10.6},
    "low 10.2 is above open/close 10.0": {"open": 10.0, "close": 10.5, "high": 11.0, "low": 10.2},
    "volume must be a whole number, got 0.5": {"volume": 0.5},
    "volume must not be negative, got -1": {"volume": -1},
}


@pytest.mark.parametrize(("reason", "bar"), BROKEN_BARS.items())
def test_a_broken_bar_gets_its_exact_reason(reason: str, bar: dict) -> None:
    assert reasons({**GOOD, **bar}) == [reason]


def test_bars_at_the_bounds_are_good() -> None:
    flat = dict.fromkeys(("open", "high", "low", "close", "adj_close"), 10.0)
    penny = {"open": 0.5, "high": 0.6, "low": 0.4, "close": 0.5, "adj_close": 0.5}
    assert reasons({**GOOD, **flat}, {**GOOD, "volume": 0}, {**GOOD, **penny}) == [None] * 3


def test_a_date_with_a_time_is_read_as_its_day_and_other_formats_are_refused() -> None:
    got = clean(bronze({**GOOD, "date": "2024-07-03T16:00:00-04:00"}))
    assert got.rejects.empty and list(got.prices.trade_date) == [DAY]
    dates = ["20240703", "2024/07/03", None]
    assert reasons(*({**GOOD, "date": date} for date in dates)) == [
        "trade date '20240703' is not a YYYY-MM-DD date",
        "trade date '2024/07/03' is not a YYYY-MM-DD date",
        "trade date <NA> is not a YYYY-MM-DD date",
    ]


def test_a_record_without_a_pull_date_is_rejected_naming_it_missing() -> None:
    raw = bronze(GOOD)
    raw["trade_date"] = None
    assert list(clean(raw).rejects.reason) == ["record is dated 2024-07-03 but was pulled for NaT"]


def test_an_invalid_row_symbol_is_rejected_with_the_symbol_rule() -> None:
    got = clean(bronze(GOOD, symbol="A B"))
    assert list(got.rejects.reason) == ["invalid symbol 'A B': expected 1-16 of A-Z 0-9 . - = ^"]


def test_records_sharing_a_verdict_are_grouped_by_every_value() -> None:
    """Three row symbols and one claimed symbol (or none): AAPL's record claims MSFT and is
    rejected; MSFT's matches; IBM's claims nothing and is good."""
    raw = pd.concat(
        [
            bronze({**GOOD, "symbol": "MSFT"}, symbol="AAPL"),
            bronze({**GOOD, "symbol": "MSFT"}, symbol="MSFT"),
            bronze({**GOOD, "symbol": None}, symbol="IBM"),
        ],
        ignore_index=True,
    )
    got = clean(raw)
    assert list(got.rejects.reason) == ["payload symbol 'MSFT' does not match 'AAPL'"]
    assert sorted(got.prices.symbol) == ["IBM", "MSFT"]


def test_a_field_the_parser_does_not_give_is_nan_not_absent(monkeypatch) -> None:
    """A parser's missing key is NaN (as in a frame of its dicts), so a source without
    adj_close is refused rather than given the close, which only a None means."""
    parse = SimulatedSource.parse_record

    def without_adj_close(payload: str) -> dict:
        return {k: v for k, v in parse(payload).items() if k != "adj_close"}

    monkeypatch.setattr(SimulatedSource, "payload_layout", None)
    monkeypatch.setattr(SimulatedSource, "parse_record", staticmethod(without_adj_close))
    assert reasons(GOOD) == ["adj_close is NaN"]


def test_prices_carry_the_ingestion_time() -> None:
    got = clean(bronze(GOOD))
    assert list(got.prices.ingested_at) == [pd.Timestamp("2024-07-03 23:00:00")]


def test_an_empty_input_gives_empty_rejects_and_nothing_superseded() -> None:
    got = clean(bronze())
    pd.testing.assert_frame_equal(got.rejects, PRICE_REJECTS.empty_frame())
    assert got.superseded == 0


def test_an_input_indexed_by_its_own_column_cleans_as_a_plain_one() -> None:
    raw = bronze(GOOD, {**GOOD, "close": "N/A"})
    indexed = raw.set_index("record_no", drop=False)
    plain, got = clean(raw), clean(indexed)
    pd.testing.assert_frame_equal(got.prices, plain.prices)
    pd.testing.assert_frame_equal(got.rejects, plain.rejects)
    assert dt.date(2024, 7, 3) == plain.prices.trade_date.iloc[0]
