"""AlphaVantageSource over the real ``requests`` stack, answered from recorded documents.

A ``requests.adapters.BaseAdapter`` mounted on the session serves the files in
fixtures/alpha_vantage, so URL building, query encoding and response decoding are the
production code path; only the socket is replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests

from stock_assets.market import calendar
from stock_assets.market.sources import parser_for, source_class
from stock_assets.market.sources.alpha_vantage import AlphaVantageSource
from stock_assets.market.sources.base import BAR_FIELDS, TICK_FIELDS, RecordError, SourceError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alpha_vantage"
KEY = "AVKEY7Q3X9ZSECRET"
AFTER_CLOSE = dt.datetime(2024, 1, 8, 15, 0, tzinfo=dt.UTC)
JAN2, JAN5 = dt.date(2024, 1, 2), dt.date(2024, 1, 5)


class RecordedAlphaVantage(requests.adapters.BaseAdapter):
    """Serves recorded bodies; ``script[symbol]`` is the sequence of answers for a symbol."""

    def __init__(self, script: dict[str, list[str]] | None = None) -> None:
        super().__init__()
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.requests: list[dict[str, str]] = []

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("https://", self)
        return session

    def send(self, request, **kwargs):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        self.requests.append(query)
        answers = self.script.get(query["symbol"]) or [f"{default(query)}"]
        name = answers.pop(0) if len(answers) > 1 else answers[0]
        status, _, name = name.rpartition(":") if ":" in name else ("200", "", name)
        response = requests.Response()
        response.status_code = int(status)
        response._content = (FIXTURES / name).read_bytes() if name else b""
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass

    def calls(self, symbol: str) -> int:
        return sum(1 for q in self.requests if q["symbol"] == symbol)


def default(query: dict[str, str]) -> str:
    if query["function"] == "TIME_SERIES_INTRADAY":
        return f"intraday_{query['interval']}_{query['symbol']}.json"
    prefix = "daily_adjusted" if query["function"] == "TIME_SERIES_DAILY_ADJUSTED" else "daily"
    return f"{prefix}_{query['symbol']}.json"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_source(server: RecordedAlphaVantage, now=AFTER_CLOSE, key=KEY, **kwargs):
    sleeps = Sleeps()
    source = AlphaVantageSource(
        key, session=server.session(), sleep=sleeps, now=lambda: now, **kwargs
    )
    return source, sleeps


def assert_no_key(*texts: object) -> None:
    for text in texts:
        assert KEY not in str(text)


def full_error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


# -- daily bars ------------------------------------------------------------------------------


def test_adjusted_daily_pull_for_several_symbols(caplog):
    caplog.set_level(logging.DEBUG)
    server = RecordedAlphaVantage()
    source, sleeps = make_source(server)
    extraction = source.fetch(["IBM", "msft"], JAN2, JAN5)

    assert extraction.symbol_errors == {}
    assert [(r.symbol, r.trade_date) for r in extraction.records] == [
        ("IBM", "2024-01-02"),
        ("IBM", "2024-01-03"),
        ("IBM", "2024-01-04"),
        ("IBM", "2024-01-05"),
        ("MSFT", "2024-01-02"),
        ("MSFT", "2024-01-03"),
        ("MSFT", "2024-01-04"),
        ("MSFT", "2024-01-05"),
    ]  # 2023-12-29 in the response is outside the query
    payload = json.loads(extraction.records[0].payload)
    assert payload == {
        "symbol": "IBM", "date": "2024-01-02", "1. open": "162.8300", "2. high": "163.2900",
        "3. low": "160.5000", "4. close": "161.5000", "5. adjusted close": "158.5111",
        "6. volume": "3825045", "7. dividend amount": "0.0000", "8. split coefficient": "1.0",
    }  # fmt: skip
    assert source.parse_record(extraction.records[0].payload) == {
        "symbol": "IBM", "trade_date": "2024-01-02", "open": "162.8300", "high": "163.2900",
        "low": "160.5000", "close": "161.5000", "adj_close": "158.5111", "volume": "3825045",
    }  # fmt: skip
    # The key went to the server and nowhere else.
    assert server.requests[0] == {
        "function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "IBM", "outputsize": "compact",
        "datatype": "json", "apikey": KEY,
    }  # fmt: skip
    assert sleeps == []
    # raw_body: one JSON line per response, holding the verbatim body.
    lines = [json.loads(line) for line in extraction.raw_body.decode().splitlines()]
    assert [(x["symbol"], x["status"]) for x in lines] == [("IBM", 200), ("MSFT", 200)]
    assert lines[0]["body"] == (FIXTURES / "daily_adjusted_IBM.json").read_text()
    assert extraction.raw_suffix == ".jsonl"
    assert_no_key(extraction.raw_body, *(r.payload for r in extraction.records), caplog.text)


def test_free_tier_daily_shape_falls_back_to_close():
    """TIME_SERIES_DAILY has fields 1-5 where "5. volume" is the volume, no adjusted close."""
    server = RecordedAlphaVantage()
    source, _ = make_source(server, daily_function="TIME_SERIES_DAILY")
    extraction = source.fetch(["IBM"], JAN5, JAN5)

    assert server.requests[0]["function"] == "TIME_SERIES_DAILY"
    (record,) = extraction.records
    assert set(json.loads(record.payload)) == {
        "symbol", "date", "1. open", "2. high", "3. low", "4. close", "5. volume"
    }  # fmt: skip
    parsed = parser_for("alpha_vantage")(record.payload)
    assert parsed["adj_close"] == parsed["close"] == "160.8600"
    assert parsed["volume"] == "3729410"


def test_outputsize_full_only_beyond_the_last_100_sessions():
    server = RecordedAlphaVantage()
    source, _ = make_source(server)
    sessions = calendar.sessions_between(dt.date(2023, 1, 1), AFTER_CLOSE.date())
    source.fetch(["IBM"], sessions[-100], JAN5)  # "compact" = the latest 100 data points
    source.fetch(["IBM"], sessions[-101], JAN5)
    assert [q["outputsize"] for q in server.requests] == ["compact", "full"]


def test_unfinished_daily_bar_dropped_while_market_open():
    during = dt.datetime(2024, 1, 5, 18, 0, tzinfo=dt.UTC)  # 13:00 New York
    source, _ = make_source(RecordedAlphaVantage(), now=during)
    extraction = source.fetch(["IBM"], JAN2, JAN5)
    assert [r.trade_date for r in extraction.records] == ["2024-01-02", "2024-01-03", "2024-01-04"]

    after = dt.datetime(2024, 1, 5, 21, 1, tzinfo=dt.UTC)  # 16:01 New York
    source, _ = make_source(RecordedAlphaVantage(), now=after)
    assert source.fetch(["IBM"], JAN2, JAN5).records[-1].trade_date == "2024-01-05"


# -- error documents -------------------------------------------------------------------------


def test_invalid_symbol_is_a_symbol_error_and_others_are_kept():
    server = RecordedAlphaVantage({"NOPE": ["error_invalid_call.json"]})
    source, sleeps = make_source(server)
    extraction = source.fetch(["IBM", "NOPE", "MSFT"], JAN2, JAN5)

    assert {r.symbol for r in extraction.records} == {"IBM", "MSFT"}
    assert len(extraction.records) == 8
    assert list(extraction.symbol_errors) == ["NOPE"]
    assert extraction.symbol_errors["NOPE"].startswith(
        "Alpha Vantage rejected the request for NOPE: Invalid API call."
    )
    assert sleeps == [] and server.calls("NOPE") == 1  # not retried
    assert b"Invalid API call" in extraction.raw_body  # the error answer is audited too


@pytest.mark.parametrize(
    "throttle", ["note_call_frequency.json", "information_rate_limit_burst.json", "429:"]
)
def test_throttle_retried_with_backoff_then_success(throttle):
    server = RecordedAlphaVantage({"IBM": [throttle, throttle, "daily_adjusted_IBM.json"]})
    source, sleeps = make_source(server)
    extraction = source.fetch(["IBM"], JAN2, JAN5)

    assert server.calls("IBM") == 3
    assert len(sleeps) == 2 and 15.0 <= sleeps[0] < sleeps[1] <= 60.0
    assert len(extraction.records) == 4 and extraction.symbol_errors == {}
    assert extraction.raw_body.count(b"\n") == 1  # only the final answer is kept


def test_throttle_exhausted_raises_source_error_without_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    server = RecordedAlphaVantage({"IBM": ["note_call_frequency.json"]})
    source, sleeps = make_source(server, max_attempts=3)
    with pytest.raises(SourceError) as raised:
        source.fetch(["IBM"], JAN2, JAN5)

    message = str(raised.value)
    assert message.startswith("alpha_vantage: still throttled after 3 attempt(s)")
    assert "5 calls per minute" in message
    assert server.calls("IBM") == 3 and len(sleeps) == 2
    assert_no_key(full_error_text(raised.value), caplog.text)


def test_daily_quota_fails_at_once():
    """Waiting minutes cannot help a per-day quota, so it is not retried."""
    server = RecordedAlphaVantage({"IBM": ["information_rate_limit_daily.json"]})
    source, sleeps = make_source(server)
    with pytest.raises(SourceError, match=r"daily request quota used up: .*25 requests per day"):
        source.fetch(["IBM"], JAN2, JAN5)
    assert sleeps == [] and server.calls("IBM") == 1


def test_premium_endpoint_is_a_source_error_with_the_free_alternative():
    server = RecordedAlphaVantage({"IBM": ["information_premium.json"]})
    source, sleeps = make_source(server)
    with pytest.raises(SourceError) as raised:
        source.fetch(["IBM"], JAN2, JAN5)
    assert "TIME_SERIES_DAILY_ADJUSTED is premium-only" in str(raised.value)
    assert "daily_function='TIME_SERIES_DAILY'" in str(raised.value)
    assert sleeps == []


@pytest.mark.parametrize("answer", ["error_invalid_apikey.json", "information_demo_key.json"])
def test_rejected_key_fails_the_whole_request(answer):
    server = RecordedAlphaVantage({"IBM": [answer]})
    source, _ = make_source(server)
    with pytest.raises(SourceError, match="API key was rejected"):
        source.fetch(["IBM", "MSFT"], JAN2, JAN5)
    assert server.calls("MSFT") == 0
    assert_no_key(full_error_text(source_error(source)))


def source_error(source: AlphaVantageSource) -> SourceError:
    try:
        source.fetch(["IBM"], JAN2, JAN5)
    except SourceError as exc:
        return exc
    raise AssertionError("expected a SourceError")


def test_missing_key_fails_before_any_request():
    server = RecordedAlphaVantage()
    source, _ = make_source(server, key="  ")
    with pytest.raises(SourceError, match="no API key configured"):
        source.fetch(["IBM"], JAN2, JAN5)
    assert server.requests == []


def test_http_errors_and_non_json():
    server = RecordedAlphaVantage({"IBM": ["500:"], "MSFT": ["200:"]})
    source, _ = make_source(server)
    with pytest.raises(SourceError, match="HTTP 500 for IBM"):
        source.fetch(["IBM"], JAN2, JAN5)
    extraction = source.fetch(["MSFT"], JAN2, JAN5)  # an empty 200 body: this symbol only
    assert "non-JSON response for MSFT" in extraction.symbol_errors["MSFT"]


def test_key_never_leaks_from_network_errors(caplog):
    """requests' own messages embed the URL with ?apikey=...; they must come out redacted."""
    caplog.set_level(logging.DEBUG)

    class Unreachable(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            # No request leaves the process: this adapter only raises the recorded error text.
            raise requests.ConnectionError(
                f"HTTPSConnectionPool(host='www.alphavantage.co', port=443): "  # recorded text
                f"Max retries exceeded with url: {request.path_url}"
            )

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("https://", Unreachable())
    source = AlphaVantageSource(KEY, session=session, sleep=Sleeps())
    with pytest.raises(SourceError) as raised:
        source.fetch(["IBM"], JAN2, JAN5)
    assert "apikey=***" in str(raised.value)
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    assert_no_key(full_error_text(raised.value), caplog.text, repr(source))


def test_key_is_absent_from_every_output_of_a_mixed_run(caplog):
    caplog.set_level(logging.DEBUG)
    server = RecordedAlphaVantage(
        {"IBM": ["note_call_frequency.json", "daily_adjusted_IBM.json"],
         "NOPE": ["error_invalid_call.json"]}
    )  # fmt: skip
    source, _ = make_source(server)
    extraction = source.fetch(["IBM", "NOPE"], JAN2, JAN5)
    assert len(extraction.records) == 4
    assert_no_key(
        extraction.raw_body, extraction.symbol_errors, caplog.text, repr(source),
        *(r.payload for r in extraction.records),
    )  # fmt: skip


# -- parsing ---------------------------------------------------------------------------------


def test_parse_record_contract():
    assert source_class("alpha_vantage") is AlphaVantageSource
    payload = json.dumps({"symbol": "IBM", "date": "2024-01-02", "4. close": "1.0"})
    assert tuple(AlphaVantageSource.parse_record(payload)) == BAR_FIELDS


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{", "not valid JSON"),
        ('{"date": "2024-01-02"}', "no 'symbol'"),
        ('{"symbol": "IBM"}', "date None is not YYYY-MM-DD"),
        ('{"symbol": "IBM", "date": "02/01/2024"}', "is not YYYY-MM-DD"),
    ],
)
def test_parse_record_rejects_unusable_payloads(payload, reason):
    with pytest.raises(RecordError, match=reason):
        AlphaVantageSource.parse_record(payload)


# -- intraday --------------------------------------------------------------------------------


def test_latest_quotes_from_the_intraday_series():
    server = RecordedAlphaVantage({"NOPE": ["error_invalid_call.json"]})
    source, _ = make_source(server)
    as_of = dt.datetime(2024, 1, 5, 15, 7, tzinfo=dt.UTC)  # 10:07 New York
    quotes = source.latest_quotes(["IBM", "NOPE"], as_of)

    (quote,) = quotes  # NOPE is skipped with a warning
    assert tuple(quote) == TICK_FIELDS
    assert quote["ts"] == "2024-01-05T15:05:00+00:00"  # 10:05 US/Eastern
    assert quote["price"] == 161.05
    assert quote["volume"] == 61234 + 70311 + 58012 + 66240 + 71190 + 88451 + 120033 + 310442
    assert quote["change"] == pytest.approx(161.05 - 161.10)
    assert quote["change_pct"] == pytest.approx(100 * (161.05 - 161.10) / 161.10, abs=1e-4)
    assert quote["source"] == "alpha_vantage"
    assert server.requests[0] == {
        "function": "TIME_SERIES_INTRADAY", "symbol": "IBM", "interval": "5min",
        "outputsize": "compact", "extended_hours": "false", "datatype": "json", "apikey": KEY,
    }  # fmt: skip


def test_latest_quotes_ignore_bars_after_as_of():
    source, _ = make_source(RecordedAlphaVantage())
    as_of = dt.datetime(2024, 1, 5, 14, 41, tzinfo=dt.UTC)  # 09:41 New York
    (quote,) = source.latest_quotes(["IBM"], as_of)
    assert quote["ts"] == "2024-01-05T14:40:00+00:00"
    assert quote["price"] == 162.01
    assert quote["volume"] == 88451 + 120033 + 310442


# -- intraday bars ---------------------------------------------------------------------------


def recorded_series(name: str, interval: str = "1min") -> dict:
    return json.loads((FIXTURES / name).read_text())[f"Time Series ({interval})"]


def test_intraday_bars_of_a_recent_session_in_utc_with_their_values():
    server = RecordedAlphaVantage({"NOPE": ["error_invalid_call.json"]})
    source, _ = make_source(server)
    pull = source.intraday_bars(["IBM", "NOPE"], JAN5)

    assert pull.source == "alpha_vantage"
    assert list(pull.symbol_errors) == ["NOPE"]
    assert "Invalid API call" in pull.symbol_errors["NOPE"]
    bars = pull.bars
    assert len(bars) == 10  # the 2024-01-04 bars of the same answer are another session
    assert bars["bar_start"].iloc[0] == pd.Timestamp("2024-01-05 14:30", tz="UTC")  # 09:30 ET
    recorded = recorded_series("intraday_1min_IBM.json")["2024-01-05 09:35:00"]
    row = bars[bars.bar_start == pd.Timestamp("2024-01-05 14:35", tz="UTC")].iloc[0]
    assert (row.open, row.high, row.low, row.close, row.volume) == (
        float(recorded["1. open"]), float(recorded["2. high"]), float(recorded["3. low"]),
        float(recorded["4. close"]), int(recorded["5. volume"]),
    )  # fmt: skip
    request = server.requests[0]
    assert (request["function"], request["interval"], request["outputsize"]) == (
        "TIME_SERIES_INTRADAY", "1min", "full",
    )  # fmt: skip
    assert request["extended_hours"] == "false" and "month" not in request


def test_intraday_bars_at_five_minutes_ask_for_5min_and_keep_its_stamps():
    server = RecordedAlphaVantage()
    source, _ = make_source(server)
    pull = source.intraday_bars(["IBM"], JAN5, interval_minutes=5)

    assert server.requests[0]["interval"] == "5min" and pull.symbol_errors == {}
    recorded = recorded_series("intraday_5min_IBM.json", "5min")
    on_day = sorted(stamp for stamp in recorded if stamp.startswith("2024-01-05"))
    bars = pull.bars  # the 2024-01-04 bars of the same answer are another session
    assert bars["bar_start"].dt.strftime("%H:%M").tolist() == [
        "14:30", "14:35", "14:40", "14:45", "14:50", "14:55", "15:00", "15:05",
    ]  # fmt: skip
    assert bars["volume"].tolist() == [int(recorded[s]["5. volume"]) for s in on_day]
    assert bars["close"].tolist() == [float(recorded[s]["4. close"]) for s in on_day]
    with pytest.raises(ValueError, match="1 or 5 minutes"):
        source.intraday_bars(["IBM"], JAN5, interval_minutes=15)


def test_intraday_bars_of_an_older_session_ask_for_its_month():
    server = RecordedAlphaVantage({"IBM": ["intraday_1min_IBM_2023-11.json"]})
    source, _ = make_source(server)
    pull = source.intraday_bars(["IBM"], dt.date(2023, 11, 10))
    assert server.requests[0]["month"] == "2023-11"
    assert pull.bars["bar_start"].dt.strftime("%H:%M").tolist() == ["14:30", "14:31", "14:32"]
    assert pull.symbol_errors == {}


def test_intraday_bars_retry_the_throttle_and_fail_on_quota_or_bad_key():
    server = RecordedAlphaVantage({"IBM": ["note_call_frequency.json", "intraday_1min_IBM.json"]})
    source, sleeps = make_source(server)
    assert len(source.intraday_bars(["IBM"], JAN5).bars) == 10 and len(sleeps) == 1
    for answer, message in (
        ("information_rate_limit_daily.json", "daily request quota"),
        ("error_invalid_apikey.json", "API key was rejected"),
    ):
        source, _ = make_source(RecordedAlphaVantage({"IBM": [answer]}))
        with pytest.raises(SourceError, match=message):
            source.intraday_bars(["IBM"], JAN5)


# -- corporate actions -----------------------------------------------------------------------


def test_corporate_actions_from_the_split_coefficient_and_dividend_amount():
    server = RecordedAlphaVantage()
    source, _ = make_source(server)
    actions = source.corporate_actions(["NVDA"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert actions[["symbol", "ex_date", "action"]].values.tolist() == [
        ["NVDA", dt.date(2024, 6, 10), "SPLIT"],
        ["NVDA", dt.date(2024, 6, 11), "DIVIDEND"],
    ]
    assert actions.ratio.iloc[0] == 10.0 and actions.amount.iloc[1] == 0.01
    assert server.requests[0]["function"] == "TIME_SERIES_DAILY_ADJUSTED"
    # Days outside the asked range, and the free tier's series (no such fields), give none.
    assert source.corporate_actions(["NVDA"], dt.date(2024, 6, 12), dt.date(2024, 6, 30)).empty
    free, _ = make_source(RecordedAlphaVantage(), daily_function="TIME_SERIES_DAILY")
    assert free.corporate_actions(["NVDA"], dt.date(2024, 6, 1), dt.date(2024, 6, 30)).empty


def test_corporate_actions_of_a_failed_symbol_are_skipped():
    server = RecordedAlphaVantage({"XXXX": ["error_invalid_call.json"]})
    source, _ = make_source(server)
    actions = source.corporate_actions(["XXXX", "NVDA"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert set(actions.symbol) == {"NVDA"}
