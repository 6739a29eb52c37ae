"""The spec's record checker on its own: the edges of its rules, the values the fast tiers
always take first (so parsing a whole object never reaches the checker with them), and
inputs only some callers hand it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from stock_assets.market.landing.spec import (
    INT64_MAX,
    JsonLine,
    Problem,
    RecordChecker,
    TooLong,
    Unreadable,
    utc,
)
from stock_assets_tests.market.landing.helpers import LATEST

CHECKER = RecordChecker(LATEST, "src")
GOOD = {"symbol": "AAPL", "ts": "2024-07-05T14:30:00Z", "price": Decimal("187.5")}
AT_1430 = 1_720_189_800_000_000  # 2024-07-05T14:30:00Z in microseconds since the epoch
FIRST_1990 = 631_152_000  # 1990-01-01T00:00:00Z in seconds since the epoch
LATEST_SECONDS = 1_720_209_900  # 2024-07-05T20:05:00Z, the checker's limit


def checked(**fields) -> tuple:
    return CHECKER.check({**GOOD, **fields})


def reason(record: object) -> str:
    with pytest.raises(Problem) as problem:
        CHECKER.check(record)
    return str(problem.value)


@pytest.mark.parametrize(
    "ts,micros",
    [
        ("1990-01-01T00:00:00Z", FIRST_1990 * 10**6),
        (Decimal(FIRST_1990), FIRST_1990 * 10**6),
        ("2024-07-05T20:05:00Z", LATEST_SECONDS * 10**6),
        (Decimal(LATEST_SECONDS), LATEST_SECONDS * 10**6),
        ("2024-07-05T14:30:00.123456789Z", AT_1430 + 123_456),  # finer than us: cut
        ("1720189800.0000015", AT_1430 + 1),  # epoch fractions of a microsecond: floor
    ],
)
def test_the_plausible_window_includes_both_ends_and_instants_are_whole_microseconds(ts, micros):
    instant = checked(ts=ts)[1]
    assert instant == micros and type(instant) is int


def test_negative_epoch_numbers_switch_to_milliseconds_at_minus_1e11_too():
    assert reason({**GOOD, "ts": Decimal(-(10**11))}) == (
        "ts -100000000000 (read as epoch milliseconds) is before 1990-01-01: implausible "
        "for a quote"
    )


def test_iso_times_outside_python_s_range_are_refused_as_such():
    assert reason({**GOOD, "ts": "0001-01-01T00:00:00+05:00"}) == (
        "ts '0001-01-01T00:00:00+05:00' is out of range"
    )


def test_iso_times_do_not_depend_on_the_machine_s_time_zone(machine_in_tokyo):
    # In Tokyo's zone this instant would be in the year 10000: only UTC holds it.
    assert reason({**GOOD, "ts": "9999-12-31T20:00:00Z"}) == (
        "ts '9999-12-31T20:00:00Z' is in the future (limit 2024-07-05T20:05:00+00:00)"
    )
    naive, aware = (
        dt.datetime(2024, 7, 5, 14, 30),
        dt.datetime.fromisoformat("2024-07-05T10:30:00-04:00"),
    )
    for moment in (utc(naive), utc(aware)):
        assert (moment.tzinfo, moment.replace(tzinfo=None)) == (dt.UTC, naive)


def test_volume_may_be_zero_or_the_largest_bigint():
    assert checked(volume=Decimal(0))[3] == 0
    assert checked(volume=Decimal(INT64_MAX))[3] == INT64_MAX


def test_python_floats_are_numbers_like_json_ones():
    assert checked(price=187.5, change=-1.25)[2:5] == (187.5, None, -1.25)


@pytest.mark.parametrize(
    "field,value,expected",
    [
        ("price", "inf", "price is infinite, got 'inf'"),
        ("price", "-INFINITY", "price is infinite, got '-INFINITY'"),
        ("price", "1e99999999999999999999", "price is infinite, got Infinity"),
        ("price", (1, 2), "price must be a number, got tuple"),
        ("price", "x" * 78, "price is not a number: '" + "x" * 78 + "'"),  # shown whole: 80
        ("price", "x" * 100, "price is not a number: '" + "x" * 79 + "..."),  # cut at 80
    ],
)
def test_reasons_name_the_value_as_given(field, value, expected):
    assert reason({**GOOD, field: value}) == expected


@pytest.mark.parametrize(
    "record,expected",
    [
        (TooLong(1_500_000), "record is 1,500,000 characters long; the limit is 1,000,000"),
        (Unreadable("line 3 is not UTF-8"), "line 3 is not UTF-8"),
        (JsonLine("true"), "record is a boolean, expected a JSON object"),
    ],
)
def test_records_that_are_no_object_are_refused_whole(record, expected):
    assert reason(record) == expected
