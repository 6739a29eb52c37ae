"""The file cache and its two users: the NYSE calendar and the SQL views' tables.

Every test points STOCK_ASSETS_CACHE_DIR at its own temporary folder, never the user's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from stock_assets.market import calendar, filecache, sql


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty cache folder, and a calendar that has not been loaded in this process."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("STOCK_ASSETS_CACHE_DIR", str(folder))
    calendar._schedule.cache_clear()
    yield folder
    calendar._schedule.cache_clear()


class Builds:
    """A build function that counts its calls."""

    def __init__(self, value: str) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def cached_text(key: dict[str, str], build: Builds) -> str:
    return filecache.cached("entry", key, build, str.encode, bytes.decode)


# -- the cache --------------------------------------------------------------------------------


def test_an_entry_is_reused_for_its_key_and_rebuilt_for_another(cache):
    build = Builds("one")
    assert cached_text({"v": "1"}, build) == cached_text({"v": "1"}, build) == "one"
    assert build.calls == 1
    other = Builds("two")
    assert cached_text({"v": "2"}, other) == "two" and other.calls == 1
    assert cached_text({"v": "2"}, Builds("unused")) == "two"  # the new entry replaced the old


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: entry[: len(entry) // 2],  # truncated
        lambda entry: entry[:-3] + b"X" + entry[-2:],  # a payload byte changed
        lambda entry: b"not json\n" + entry.partition(b"\n")[2],  # header unreadable
        lambda entry: b"",  # empty
    ],
    ids=["truncated", "payload-changed", "bad-header", "empty"],
)
def test_a_damaged_entry_is_rebuilt_and_repaired(cache, damage):
    cached_text({"v": "1"}, Builds("original"))
    path = cache / "entry"
    path.write_bytes(damage(path.read_bytes()))
    build = Builds("original")
    assert cached_text({"v": "1"}, build) == "original" and build.calls == 1
    assert cached_text({"v": "1"}, Builds("unused")) == "original"


def test_an_entry_the_decoder_rejects_is_rebuilt(cache):
    def cached_value(build):
        encode = lambda value: json.dumps({"value": value}).encode()  # noqa: E731
        decode = lambda payload: json.loads(payload)["value"]  # noqa: E731
        return filecache.cached("entry", {"v": "1"}, build, encode, decode)

    # A well-formed entry (key and digest match) whose payload is not what decode expects.
    filecache._write(cache / "entry", filecache._entry({"v": "1"}, b'"a string"'))
    assert cached_value(Builds("ok")) == "ok"
    assert cached_value(Builds("unused")) == "ok"


def test_an_interrupted_write_leaves_the_previous_entry_whole(cache, monkeypatch):
    cached_text({"v": "1"}, Builds("first"))
    before = (cache / "entry").read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    assert cached_text({"v": "2"}, Builds("second")) == "second"
    assert (cache / "entry").read_bytes() == before
    assert [p.name for p in cache.iterdir()] == ["entry"]  # no temporary file left behind


def test_concurrent_writers_never_expose_half_an_entry(cache):
    entries = {filecache._entry({"v": str(i)}, bytes([65 + i]) * 200_000) for i in range(4)}
    path = cache / "entry"
    filecache._write(path, next(iter(entries)))

    def write(entry: bytes) -> None:
        for _ in range(25):
            filecache._write(path, entry)

    writers = [threading.Thread(target=write, args=(entry,)) for entry in entries]
    for writer in writers:
        writer.start()
    seen = set()
    while any(w.is_alive() for w in writers):
        seen.add(path.read_bytes())
    for writer in writers:
        writer.join()
    assert seen <= entries
    assert [p.name for p in cache.iterdir()] == ["entry"]


def test_an_unwritable_cache_folder_means_computing_every_time(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("STOCK_ASSETS_CACHE_DIR", str(blocker / "cache"))
    build = Builds("value")
    assert cached_text({"v": "1"}, build) == cached_text({"v": "1"}, build) == "value"
    assert build.calls == 2


def test_the_cache_folder_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("STOCK_ASSETS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert filecache.cache_dir() == tmp_path / "xdg" / "stock_assets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert filecache.cache_dir() == tmp_path / "home" / ".cache" / "stock_assets"


# -- the calendar -----------------------------------------------------------------------------


def test_the_cached_calendar_is_exchange_calendars_xnys(cache, monkeypatch):
    calendar.calendar_end()  # built and stored
    calendar._schedule.cache_clear()

    def no_build(end):
        raise AssertionError("the calendar was built again instead of read from the cache")

    monkeypatch.setattr(calendar, "_build", no_build)
    cal = xcals.get_calendar("XNYS", start=pd.Timestamp(calendar.CALENDAR_START))
    assert calendar.calendar_end() == cal.last_session.date()

    first, last = calendar.CALENDAR_START, cal.last_session.date()
    assert calendar.sessions_between(first, last) == [ts.date() for ts in cal.sessions]
    sessions = set(cal.sessions.date)
    weekdays = [d.date() for d in pd.bdate_range(first, last)]
    assert calendar.holidays_between(first, last) == [d for d in weekdays if d not in sessions]

    named = cal.regular_holidays.holidays(cal.first_session, cal.last_session, return_name=True)
    names = {ts.date(): name for ts, name in named.items()}
    for ts in cal.adhoc_holidays:
        if cal.first_session <= ts <= cal.last_session:
            names.setdefault(ts.date(), "special closure")
    assert calendar.holiday_names() == names

    schedule = calendar._schedule()
    for ours, theirs in ((schedule.opens, cal.opens), (schedule.closes, cal.closes)):
        pd.testing.assert_index_equal(
            pd.DatetimeIndex(ours).tz_localize("UTC"), pd.DatetimeIndex(theirs), check_names=False
        )
    assert len(cal.early_closes) > 50
    for session in cal.early_closes:
        close = calendar.market_close_utc(session.date())
        assert close == cal.session_close(session) and close.unit == "ns"
        assert close.tz_convert(calendar.MARKET_TIMEZONE).hour == 13
    assert calendar.market_open_utc(dt.date(2024, 7, 3)) == cal.session_open("2024-07-03")


def test_the_calendar_is_rebuilt_when_its_file_is_damaged_or_its_end_moves(cache, monkeypatch):
    calendar.calendar_end()
    path = cache / "calendar-XNYS.json"
    path.write_bytes(path.read_bytes()[:-100])
    calendar._schedule.cache_clear()
    assert calendar.is_session(dt.date(2024, 7, 3)) and not calendar.is_session(dt.date(2024, 7, 4))

    monkeypatch.setattr(calendar, "_calendar_end", lambda: dt.date(2031, 1, 5))  # a later today
    calendar._schedule.cache_clear()
    assert calendar.calendar_end() == dt.date(2031, 1, 3)
    assert "Christmas" in calendar.non_session_reason(dt.date(2030, 12, 25))

    def no_build(end):
        raise AssertionError("the rebuilt entry was not stored")

    monkeypatch.setattr(calendar, "_build", no_build)
    calendar._schedule.cache_clear()
    assert calendar.calendar_end() == dt.date(2031, 1, 3)


def test_a_process_with_a_warm_cache_imports_neither_exchange_calendars_nor_sqlglot(cache):
    calendar.calendar_end()
    sql.load_views()
    probe = (
        "import sys\n"
        "from stock_assets.market import calendar, sql\n"
        "assert calendar.sessions_between(calendar.CALENDAR_START, calendar.calendar_end())\n"
        "assert sql.load_views()\n"
        "print(sorted({'exchange_calendars', 'sqlglot'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- the views --------------------------------------------------------------------------------


def test_views_read_from_the_cache_equal_the_parsed_files(cache, monkeypatch):
    parsed = sql.load_views()

    def no_parse(name, text):
        raise AssertionError("parsed again instead of read from the cache")

    monkeypatch.setattr(sql.View, "parse", no_parse)
    cached = sql.load_views()
    assert cached == parsed
    assert [v.statement for v in cached] == [v.statement for v in parsed]


def test_a_changed_view_file_is_parsed_again(cache, tmp_path):
    views = tmp_path / "sql" / "views"
    views.mkdir(parents=True)
    (views / "v.sql").write_text("CREATE OR REPLACE VIEW gold.v AS SELECT * FROM silver.prices")
    assert sql.load_views(tmp_path / "sql")[0].tables == ("silver.prices",)
    (views / "v.sql").write_text("CREATE OR REPLACE VIEW gold.v AS SELECT * FROM gold.signals")
    assert sql.load_views(tmp_path / "sql")[0].tables == ("gold.signals",)
    (views / "v.sql").write_text("CREATE OR REPLACE VIEW gold.w AS SELECT 1 AS a")
    with pytest.raises(ValueError, match="must be named"):
        sql.load_views(tmp_path / "sql")
