"""YahooSource against the real ``yfinance.download`` fed by recorded chart-API documents.

Instead of mocking ``download``, a ``requests.Session`` whose transport adapter serves the
recorded Yahoo responses is handed to yfinance (its ``session=`` argument), so yfinance's own
parsing, time-zone handling, NaN padding of failed tickers and rate-limit detection run
exactly as in production. Nothing here can reach the network: every URL the adapter does
not know is answered 404 and recorded, and the tests assert none was needed for data.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
import yfinance
from yfinance import cache as yf_cache
from yfinance.data import YfData
from yfinance.exceptions import YFRateLimitError

from stock_assets.market.sources import parser_for, source_class
from stock_assets.market.sources.base import BAR_FIELDS, TICK_FIELDS, RecordError, SourceError
from stock_assets.market.sources.yahoo import YahooSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "yahoo"
AFTER_CLOSE = dt.datetime(2024, 1, 8, 15, 0, tzinfo=dt.UTC)  # the Monday after: all bars final
JAN2, JAN5 = dt.date(2024, 1, 2), dt.date(2024, 1, 5)


class RecordedYahoo(requests.adapters.BaseAdapter):
    """Answers yfinance's HTTP calls from the recorded documents in fixtures/yahoo."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.throttled: set[str] = set()  # symbols whose chart calls get HTTP 429

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("https://", self)
        session.mount("http://", self)
        return session

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        url = urlsplit(request.url)
        params = parse_qs(url.query)
        if url.path.startswith("/v8/finance/chart/"):
            symbol = url.path.rsplit("/", 1)[1]
            interval = params.get("interval", ["1d"])[0]
            recorded = FIXTURES / f"chart_{symbol}_{interval}.json"
            if symbol in self.throttled:
                return self._response(request, 429, "too_many_requests_429.txt", "text/plain")
            if recorded.exists():
                return self._response(request, 200, recorded.name)
            return self._response(request, 404, "chart_not_found_404.json")
        if url.path.startswith("/v10/finance/quoteSummary/"):
            return self._response(request, 404, "quote_summary_not_found_404.json")
        if url.path == "/v1/test/getcrumb":
            return self._response(request, 200, body=b"Xq3pT1vRk0a", content_type="text/plain")
        # fc.yahoo.com (cookie) and the consent pages: Yahoo answers 404 pages there too.
        return self._response(request, 404, body=b"<html><body>Not Found</body></html>")

    @staticmethod
    def _response(request, status, name=None, content_type="application/json", body=None):
        response = requests.Response()
        response.status_code = status
        response.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}[status]
        response._content = body if body is not None else (FIXTURES / name).read_bytes()
        response.headers["Content-Type"] = f"{content_type};charset=utf-8"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    def data_urls(self, interval: str) -> list[str]:
        return [u for u in self.urls if "/v8/finance/chart/" in u and f"interval={interval}" in u]


@pytest.fixture(autouse=True)
def isolated_yfinance(monkeypatch):
    """No cache files under ~/.cache and no responses remembered between tests."""
    monkeypatch.setattr(yf_cache._TzCacheManager, "_tz_cache", yf_cache._TzCacheDummy())
    monkeypatch.setattr(yf_cache._CookieCacheManager, "_Cookie_cache", yf_cache._CookieCacheDummy())
    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()


@pytest.fixture
def yahoo() -> RecordedYahoo:
    return RecordedYahoo()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(yahoo: RecordedYahoo, now=AFTER_CLOSE, calls=None, **download_kwargs):
    """A YahooSource whose download is the real yfinance.download on the recorded session."""

    def download(*args, **kwargs):
        if calls is not None:
            calls.append(kwargs)
        return yfinance.download(*args, session=yahoo.session(), **download_kwargs, **kwargs)

    sleeps = Sleeps()
    source = YahooSource(download=download, sleep=sleeps, now=lambda: now)
    return source, sleeps


def payloads(extraction, symbol):
    return [json.loads(r.payload) for r in extraction.records if r.symbol == symbol]


# -- daily bars ------------------------------------------------------------------------------


def test_multi_symbol_pull_one_record_per_ticker_and_day(yahoo):
    calls: list[dict] = []
    source, sleeps = make_source(yahoo, calls=calls)
    extraction = source.fetch(["aapl", "MSFT"], JAN2, JAN5)

    assert extraction.source == "yahoo"
    assert extraction.symbol_errors == {}
    assert [(r.symbol, r.trade_date) for r in extraction.records] == [
        ("AAPL", "2024-01-02"), ("AAPL", "2024-01-03"), ("AAPL", "2024-01-04"),
        ("AAPL", "2024-01-05"), ("MSFT", "2024-01-02"), ("MSFT", "2024-01-03"),
        ("MSFT", "2024-01-04"), ("MSFT", "2024-01-05"),
    ]  # fmt: skip
    first = payloads(extraction, "AAPL")[0]
    # yfinance's own field names, the float32 artefacts Yahoo sends, and the symbol.
    assert first == {
        "symbol": "AAPL", "Date": "2024-01-02", "Open": 187.14999389648438,
        "High": 188.44000244140625, "Low": 183.88499450683594, "Close": 185.63999938964844,
        "Adj Close": 184.73989868164062, "Volume": 82488700,
    }  # fmt: skip
    assert source.parse_record(extraction.records[0].payload) == {
        "symbol": "AAPL", "trade_date": "2024-01-02", "open": 187.14999389648438,
        "high": 188.44000244140625, "low": 183.88499450683594, "close": 185.63999938964844,
        "adj_close": 184.73989868164062, "volume": 82488700,
    }  # fmt: skip
    # Close and Adj Close differ because auto_adjust=False was asked for explicitly.
    assert first["Close"] != first["Adj Close"]
    (kwargs,) = calls
    assert kwargs == {
        "auto_adjust": False, "actions": False, "progress": False, "group_by": "column",
        "multi_level_index": True, "start": "2024-01-02", "end": "2024-01-06", "interval": "1d",
    }  # fmt: skip
    assert sleeps == []
    # The audit copy is the downloaded frame with its two header rows, and round-trips.
    frame = pd.read_csv(io.BytesIO(extraction.raw_body), header=[0, 1], index_col=0)
    assert list(frame.columns.names) == ["Price", "Ticker"]
    assert frame[("Volume", "MSFT")].tolist() == [25258600, 23083500, 20901500, 20987000]
    assert extraction.raw_suffix == ".csv"


def test_single_ticker_still_has_multiindex_columns(yahoo):
    """yfinance 1.x keeps (Price, Ticker) columns for one ticker; the adapter relies on it."""
    frame = yfinance.download(
        ["MSFT"], start="2024-01-02", end="2024-01-06", auto_adjust=False, progress=False,
        multi_level_index=True, session=yahoo.session(),
    )  # fmt: skip
    assert isinstance(frame.columns, pd.MultiIndex)
    assert list(frame.columns.names) == ["Price", "Ticker"]
    assert frame.index.name == "Date" and frame.index.tz is None

    source, _ = make_source(yahoo)
    extraction = source.fetch(["MSFT"], JAN2, JAN5)
    assert [r.trade_date for r in extraction.records] == [
        "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"
    ]  # fmt: skip
    assert payloads(extraction, "MSFT")[-1]["Close"] == pytest.approx(367.75)


def test_single_level_columns_are_accepted_for_one_ticker(yahoo):
    """A download configured with multi_level_index=False must not break the adapter."""

    def flat_download(*args, **kwargs):
        kwargs["multi_level_index"] = False
        return yfinance.download(*args, session=yahoo.session(), **kwargs)

    extraction = YahooSource(download=flat_download, now=lambda: AFTER_CLOSE).fetch(
        ["AAPL"], JAN2, JAN5
    )
    assert len(extraction.records) == 4
    assert payloads(extraction, "AAPL")[0]["Adj Close"] == pytest.approx(184.7399, abs=1e-4)


def test_tz_aware_index_gives_the_same_trade_dates(yahoo):
    naive, _ = make_source(yahoo)
    aware, _ = make_source(yahoo, ignore_tz=False)  # yfinance then keeps America/New_York
    naive_ex = naive.fetch(["AAPL", "MSFT"], JAN2, JAN5)
    aware_ex = aware.fetch(["AAPL", "MSFT"], JAN2, JAN5)

    assert [r.trade_date for r in aware_ex.records] == [r.trade_date for r in naive_ex.records]
    assert payloads(naive_ex, "AAPL")[0]["Date"] == "2024-01-02"
    # The tz-aware label is kept as delivered; parsing maps it to the New York date.
    assert payloads(aware_ex, "AAPL")[0]["Date"] == "2024-01-02T00:00:00-05:00"
    parsed = [YahooSource.parse_record(r.payload) for r in aware_ex.records]
    assert [p["trade_date"] for p in parsed] == [r.trade_date for r in naive_ex.records]


def test_utc_index_is_converted_to_new_york_dates():
    """A tz-aware index in another zone: 00:00 UTC on the 3rd is the evening of the 2nd."""
    index = pd.DatetimeIndex(["2024-01-03 00:00", "2024-01-04 00:00"], tz="UTC", name="Date")
    columns = pd.MultiIndex.from_product(
        [list(YF_FIELDS_ORDER), ["AAPL"]], names=["Price", "Ticker"]
    )
    frame = pd.DataFrame(1.0, index=index, columns=columns)
    source = YahooSource(download=lambda *a, **k: frame, now=lambda: AFTER_CLOSE)
    extraction = source.fetch(["AAPL"], JAN2, JAN5)
    assert [r.trade_date for r in extraction.records] == ["2024-01-02", "2024-01-03"]
    assert [YahooSource.parse_record(r.payload)["trade_date"] for r in extraction.records] == [
        "2024-01-02", "2024-01-03"
    ]  # fmt: skip


YF_FIELDS_ORDER = ("Adj Close", "Close", "High", "Low", "Open", "Volume")


def test_timestamps_are_read_as_new_york_dates():
    """A UTC instant late in the evening belongs to the New York day before it."""
    payload = json.dumps({"symbol": "AAPL", "Date": "2024-01-03T01:00:00+00:00", "Close": 1})
    assert YahooSource.parse_record(payload)["trade_date"] == "2024-01-02"
    naive = json.dumps({"symbol": "AAPL", "Date": "2024-01-03", "Close": 1})
    assert YahooSource.parse_record(naive)["trade_date"] == "2024-01-03"


def test_unfinished_bar_dropped_while_market_open(yahoo):
    during = dt.datetime(2024, 1, 5, 16, 0, tzinfo=dt.UTC)  # 11:00 New York, session running
    source, _ = make_source(yahoo, now=during)
    extraction = source.fetch(["AAPL", "MSFT"], JAN2, JAN5)
    assert sorted({r.trade_date for r in extraction.records}) == [
        "2024-01-02", "2024-01-03", "2024-01-04"
    ]  # fmt: skip
    assert extraction.symbol_errors == {}  # skipping an unfinished bar is not a failure


def test_todays_bar_kept_after_the_close(yahoo):
    after = dt.datetime(2024, 1, 5, 21, 5, tzinfo=dt.UTC)  # 16:05 New York
    source, _ = make_source(yahoo, now=after)
    extraction = source.fetch(["AAPL", "MSFT"], JAN2, JAN5)
    assert [r.trade_date for r in extraction.records if r.symbol == "AAPL"][-1] == "2024-01-05"
    assert len(extraction.records) == 8


def test_bars_outside_the_query_are_not_records(yahoo):
    source, _ = make_source(yahoo)
    extraction = source.fetch(["AAPL"], dt.date(2024, 1, 3), dt.date(2024, 1, 4))
    assert [r.trade_date for r in extraction.records] == ["2024-01-03", "2024-01-04"]


def test_failed_ticker_reported_and_good_tickers_kept(yahoo):
    source, _ = make_source(yahoo)
    extraction = source.fetch(["AAPL", "NOPE", "MSFT"], JAN2, JAN5)

    assert {r.symbol for r in extraction.records} == {"AAPL", "MSFT"}
    assert len(extraction.records) == 8
    assert list(extraction.symbol_errors) == ["NOPE"]
    reason = extraction.symbol_errors["NOPE"]
    assert reason.startswith("Yahoo returned no prices for NOPE from 2024-01-02 to 2024-01-05: ")
    assert "http" not in reason  # yfinance's message carries the URL; it is cut out
    # The failed ticker's all-NaN columns are in the audit copy but yield no records.
    assert b"NOPE" in extraction.raw_body


def test_all_nan_rows_of_the_union_index_are_not_records():
    """A ticker missing a day another ticker has gets a NaN row from yfinance's reindex."""
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="Date")
    columns = pd.MultiIndex.from_product(
        [["Adj Close", "Close", "High", "Low", "Open", "Volume"], ["AAPL", "NEWCO"]],
        names=["Price", "Ticker"],
    )
    frame = pd.DataFrame(float("nan"), index=index, columns=columns)
    for field, value in {"Open": 10.0, "High": 11.0, "Low": 9.0, "Close": 10.5}.items():
        frame[(field, "AAPL")] = value
        frame.loc["2024-01-03", (field, "NEWCO")] = value
    frame[("Adj Close", "AAPL")] = float("nan")  # a real partial NaN stays in the payload
    frame[("Volume", "AAPL")] = 1000.0
    frame.loc["2024-01-03", ("Volume", "NEWCO")] = 5.0

    source = YahooSource(download=lambda *a, **k: frame, now=lambda: AFTER_CLOSE)
    extraction = source.fetch(["AAPL", "NEWCO"], JAN2, dt.date(2024, 1, 3))
    assert [(r.symbol, r.trade_date) for r in extraction.records] == [
        ("AAPL", "2024-01-02"), ("AAPL", "2024-01-03"), ("NEWCO", "2024-01-03"),
    ]  # fmt: skip
    record = YahooSource.parse_record(extraction.records[0].payload)
    assert math.isnan(record["adj_close"])  # kept as NaN for cleaning to reject by name
    assert "NaN" in extraction.records[0].payload
    assert record["volume"] == 1000 and isinstance(record["volume"], int)


def test_empty_download_makes_every_symbol_an_error():
    empty = pd.DataFrame(
        columns=pd.MultiIndex.from_tuples([], names=["Price", "Ticker"]),
        index=pd.DatetimeIndex([], name="Date"),
    )
    source = YahooSource(download=lambda *a, **k: empty, now=lambda: AFTER_CLOSE)
    extraction = source.fetch(["AAPL", "MSFT"], JAN2, JAN5)
    assert extraction.records == []
    assert set(extraction.symbol_errors) == {"AAPL", "MSFT"}
    assert "every value is empty" in extraction.symbol_errors["AAPL"]


# -- rate limits -----------------------------------------------------------------------------


def test_http_429_retried_then_succeeds(yahoo):
    yahoo.throttled = {"AAPL"}
    calls: list[dict] = []

    def download(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 3:  # Yahoo lets us through on the third try
            yahoo.throttled.clear()
        return yfinance.download(*args, session=yahoo.session(), **kwargs)

    sleeps = Sleeps()
    source = YahooSource(download=download, sleep=sleeps, now=lambda: AFTER_CLOSE)
    extraction = source.fetch(["AAPL", "MSFT"], JAN2, JAN5)

    assert len(calls) == 3
    assert len(sleeps) == 2 and 2.0 <= sleeps[0] < sleeps[1] <= 30.0  # growing backoff
    assert extraction.symbol_errors == {}
    assert len(extraction.records) == 8
    assert any("429" in u or "AAPL" in u for u in yahoo.urls)


def test_http_429_exhausted_raises_source_error(yahoo):
    yahoo.throttled = {"AAPL"}
    source, sleeps = make_source(yahoo)
    with pytest.raises(SourceError, match=r"yahoo: still throttled after 4 attempt\(s\)"):
        source.fetch(["AAPL", "MSFT"], JAN2, JAN5)
    assert len(sleeps) == 3


def test_rate_limit_exception_from_download_is_retried():
    """Older yfinance (and single-ticker paths) raise YFRateLimitError instead of logging."""
    attempts = []

    def download(*args, **kwargs):
        attempts.append(1)
        raise YFRateLimitError()

    sleeps = Sleeps()
    source = YahooSource(download=download, max_attempts=2, sleep=sleeps, now=lambda: AFTER_CLOSE)
    with pytest.raises(SourceError, match="Too Many Requests"):
        source.fetch(["AAPL"], JAN2, JAN5)
    assert len(attempts) == 2 and len(sleeps) == 1


# -- parsing ---------------------------------------------------------------------------------


def test_parse_record_returns_bar_fields_and_is_registered():
    payload = json.dumps({"symbol": "AAPL", "Date": "2024-01-02", "Close": 1.5, "Volume": 7})
    record = parser_for("yahoo")(payload)
    assert tuple(record) == BAR_FIELDS
    assert record["adj_close"] is None and record["volume"] == 7
    assert source_class("yahoo") is YahooSource


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"symbol": "AAPL", "Close": 1}', "no 'Date'"),
        ('{"Date": "2024-01-02", "Close": 1}', "no 'symbol'"),
        ('{"symbol": "AAPL", "Date": "yesterday"}', "not an ISO date"),
    ],
)
def test_parse_record_rejects_unusable_payloads(payload, reason):
    with pytest.raises(RecordError, match=reason):
        YahooSource.parse_record(payload)


# -- latest quotes ---------------------------------------------------------------------------


def test_latest_quotes_from_one_minute_bars(yahoo):
    calls: list[dict] = []
    source, _ = make_source(yahoo, calls=calls)
    as_of = dt.datetime(2024, 1, 5, 21, 0, tzinfo=dt.UTC)
    quotes = source.latest_quotes(["AAPL", "MSFT", "NOPE"], as_of)

    assert [q["symbol"] for q in quotes] == ["AAPL", "MSFT"]  # NOPE has no bars: skipped
    aapl = quotes[0]
    assert tuple(aapl) == TICK_FIELDS
    assert aapl["ts"] == "2024-01-05T20:59:00+00:00"
    assert aapl["price"] == pytest.approx(181.18)
    assert aapl["volume"] == 412310 + 389200 + 455120 + 602870 + 1390450
    assert aapl["change"] == pytest.approx(181.18 - 181.91, abs=1e-3)  # vs the 2024-01-04 close
    assert aapl["change_pct"] == pytest.approx(100 * (181.18 - 181.91) / 181.91, abs=1e-3)
    assert aapl["source"] == "yahoo"
    assert calls[0]["interval"] == "1m" and calls[0]["period"] == "1d"


def test_latest_quotes_respect_as_of(yahoo):
    source, _ = make_source(yahoo)
    as_of = dt.datetime(2024, 1, 5, 20, 57, 30, tzinfo=dt.UTC)  # 15:57:30 New York
    (quote,) = source.latest_quotes(["MSFT"], as_of)
    assert quote["ts"] == "2024-01-05T20:57:00+00:00"
    assert quote["price"] == pytest.approx(367.66)
    assert quote["volume"] == 120450 + 98320 + 143870


def test_no_request_left_the_recorded_transport(yahoo):
    """Every data URL yfinance asked for was a chart-API call the recording answered."""
    source, _ = make_source(yahoo)
    source.fetch(["AAPL"], JAN2, JAN5)
    assert yahoo.data_urls("1d")
    assert all(urlsplit(u).hostname.endswith("yahoo.com") for u in yahoo.urls)


# -- intraday bars ---------------------------------------------------------------------------


def recorded_quote(name: str) -> tuple[list[int], dict]:
    result = json.loads((FIXTURES / name).read_text())["chart"]["result"][0]
    return result["timestamp"], result["indicators"]["quote"][0]


@pytest.mark.parametrize("minutes", [1, 5])
def test_intraday_bars_are_the_recorded_bars_in_utc(yahoo, minutes):
    calls: list[dict] = []
    source, _ = make_source(yahoo, calls=calls)
    pull = source.intraday_bars(["AAPL", "NOPE"], JAN5, interval_minutes=minutes)

    stamps, quote = recorded_quote(f"chart_AAPL_{minutes}m.json")
    bars = pull.bars
    assert bars["symbol"].tolist() == ["AAPL"] * len(stamps)
    assert bars["bar_start"].tolist() == [pd.Timestamp(s, unit="s", tz="UTC") for s in stamps]
    for column in ("open", "high", "low", "close"):
        assert bars[column].tolist() == pytest.approx(quote[column])
    assert bars["volume"].tolist() == quote["volume"]
    assert list(pull.symbol_errors) == ["NOPE"]
    assert calls[0]["interval"] == f"{minutes}m" and calls[0]["prepost"] is False
    assert (calls[0]["start"], calls[0]["end"]) == ("2024-01-05", "2024-01-06")


def test_intraday_bars_of_a_zone_less_index_are_read_as_new_york_time(yahoo):
    aware, _ = make_source(yahoo)
    naive, _ = make_source(yahoo, ignore_tz=True)  # yfinance drops the zone: New York clock
    expected = aware.intraday_bars(["AAPL"], JAN5).bars
    assert expected["bar_start"].iloc[0] == pd.Timestamp("2024-01-05 20:55", tz="UTC")  # 15:55 ET
    pd.testing.assert_frame_equal(naive.intraday_bars(["AAPL"], JAN5).bars, expected)


def test_intraday_bars_beyond_yahoos_reach_fail_with_the_limit(yahoo):
    source, _ = make_source(yahoo, now=dt.datetime(2024, 2, 20, 15, tzinfo=dt.UTC))
    with pytest.raises(SourceError, match="1-minute bars reach back 30 days only"):
        source.intraday_bars(["AAPL"], JAN5)
    assert not yahoo.data_urls("1m")  # refused before asking
    assert source.intraday_bars(["AAPL"], JAN5, interval_minutes=5).bars.shape[0] == 2


def test_intraday_bars_retry_a_429(yahoo):
    yahoo.throttled.add("AAPL")
    source, sleeps = make_source(yahoo)
    with pytest.raises(SourceError, match="429"):
        source.intraday_bars(["AAPL"], JAN5)
    assert len(sleeps) == source.backoff.max_attempts - 1


# -- corporate actions -----------------------------------------------------------------------


def test_corporate_actions_are_yfinances_split_and_dividend_events(yahoo):
    calls: list[dict] = []
    source, _ = make_source(yahoo, calls=calls)
    actions = source.corporate_actions(["NVDA", "AAPL"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert calls[0]["actions"] is True
    assert actions[["symbol", "ex_date", "action"]].values.tolist() == [
        ["NVDA", dt.date(2024, 6, 10), "SPLIT"],
        ["NVDA", dt.date(2024, 6, 11), "DIVIDEND"],
    ]
    assert actions.ratio.iloc[0] == 10.0
    assert actions.amount.iloc[1] == pytest.approx(0.01)
    # The daily pull itself still asks for bars only (bronze payloads keep their shape).
    calls.clear()
    source.fetch(["NVDA"], dt.date(2024, 6, 5), dt.date(2024, 6, 12))
    assert calls[0]["actions"] is False
