"""Records in and just off the producers' shape: the fast tiers' edges, as strategies."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import string

from hypothesis import strategies as st

from stock_assets.market.sources.base import TICK_FIELDS
from stock_assets_tests.market.landing.helpers import (
    LATEST,
)
from stock_assets_tests.market.landing.strategies import (
    junk_lines,
    junk_objects,
    junk_rows,
    offsets,
    symbols,
)


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


ISO_MOMENTS = st.datetimes(
    min_value=dt.datetime(1989, 12, 31), max_value=dt.datetime(2024, 7, 6), timezones=offsets
) | st.sampled_from(
    [
        dt.datetime(1990, 1, 1, tzinfo=dt.UTC),  # the earliest instant accepted
        dt.datetime(1989, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        LATEST,  # the latest instant accepted
        LATEST + dt.timedelta(microseconds=1),
        dt.datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=dt.UTC),
    ]
)
digits = st.text("0123456789", max_size=10)


@st.composite
def iso_texts(draw) -> str:
    """isoformat() of a moment, with Z for UTC and the fraction cut or extended at times."""
    text = draw(ISO_MOMENTS).isoformat(sep=draw(st.sampled_from("T ")))
    if draw(st.booleans()):
        text = text.replace("+00:00", "Z")
    if "." in text and draw(st.booleans()):
        head, tail = text.split(".", 1)  # tail: six digits, then the zone
        fraction = (tail[:6] + draw(digits))[: draw(st.integers(1, 9))]
        text = f"{head}.{fraction}{tail[6:]}"
    return text


@st.composite
def iso_fields(draw) -> str:
    """ISO-8601-like text with every field around its limits."""
    year = draw(st.sampled_from(["0000", "1989", "1990", "2023", "2024", "9999"]))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = (draw(st.integers(0, n)) for n in (24, 60, 60))
    separator = draw(st.sampled_from(["T", " ", "t", "_"]))
    fraction = draw(st.sampled_from(["", ".", ","])) + draw(digits)
    sign, zone_hour, zone_minute = (
        draw(st.sampled_from("+-")),
        *draw(st.tuples(st.integers(0, 25), st.integers(0, 61))),
    )
    zone = draw(
        st.sampled_from(["Z", "z", "", "+0530", "+05", f"{sign}{zone_hour:02d}:{zone_minute:02d}"])
    )
    return (
        f"{year}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
        f"{fraction}{zone}"
    )


PLAUSIBLE_SECONDS = (631_152_000, 1_720_209_900)  # 1990-01-01 .. LATEST
epochs = st.one_of(
    st.integers(*PLAUSIBLE_SECONDS),
    st.integers(*PLAUSIBLE_SECONDS).map(lambda s: s * 1000 + 999),
    st.integers(99_999_999_990, 100_000_000_010),  # where seconds turn into milliseconds
    st.sampled_from([0, 1, -1_720_189_800, 1_720_209_901, 1_720_209_900_001, 10**15, 10**20]),
).map(str)
# Number spellings a file may hold: limits of the fast forms, and what JSON refuses.
NUMBER_TEXTS = [
    "187.5", "-0", "0", "0.0", "-0.0", "1E5", "1e-5", "2.5E+2", "1e99", "1e100", "1e400",
    "1e-400", "1" * 30, "1" * 31, "0." + "0" * 39 + "1", "0." + "0" * 40 + "1",
    "9007199254740993", "0.30000000000000004",
    "1.00000000000000011102230246251565404236316680908203125",  # halfway: rounds to even
    "01.5", "1.", ".5", "+1", "NaN", "Infinity", "-Infinity", "-1", "3",
]  # fmt: skip


def prices(*, signed: bool = False) -> st.SearchStrategy[str]:
    """Numbers as producers write them (repr of a float, or an int), up to a million."""
    magnitude = st.floats(1e-3, 1e6) | st.integers(1, 10**10).map(lambda n: n / 10_000)
    sign = st.sampled_from([1, -1] if signed else [1])
    return st.builds(lambda m, s: json.dumps(m * s), magnitude, sign) | st.integers(
        -(10**6) if signed else 1, 10**6
    ).map(str)


numbers = st.one_of(  # every spelling, including NaN, Infinity and 1e+308
    st.floats().map(json.dumps),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(NUMBER_TEXTS),
)


def quoted(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(json_text)


odd_values = st.sampled_from(
    ["null", "true", "false", '""', '"  "', "[1]", '{"a": 1}', '"\\u00e9"', '"a\\"b"', '"\\n"']
)
plain_names = st.text(string.ascii_letters + string.digits + " .&-", min_size=1, max_size=12)
TOKENS = {  # JSON text of each field: (clean values, everything around them)
    "symbol": (
        quoted(symbols),
        quoted(st.sampled_from(["aapl", " AAPL", "A..B", "TOO-LONG-SYMBOL-X", "^^A", "A/B", ""]))
        | st.sampled_from(["42", "null"]),
    ),
    "ts": (
        quoted(iso_texts()) | epochs,
        quoted(iso_fields() | epochs)
        | st.sampled_from(["1720189800.5", "1.7201898e9", "-0", "1e11"])
        | odd_values,
    ),
    "price": (prices(), quoted(numbers) | numbers | odd_values),
    "volume": (
        st.integers(0, 10**6).map(str) | st.just("null"),
        st.sampled_from(["-1", "1.0", "1.5", "3e3", str(2**63 - 1), str(2**63), str(10**18)])
        | quoted(st.integers(0, 100).map(str))
        | odd_values,
    ),
    "change": (prices(signed=True) | st.just("null"), numbers | quoted(numbers) | odd_values),
    "change_pct": (prices(signed=True) | st.just("null"), numbers | quoted(numbers) | odd_values),
    "name": (
        quoted(plain_names) | st.just("null"),
        quoted(st.text(st.characters(exclude_categories=["Cs"]), max_size=12))
        | st.sampled_from(['"T-Mobile US, Inc."', '"a}, {b"', '"x\\u0000"', "7"])
        | odd_values,
    ),
    "source": (
        quoted(st.sampled_from(["yahoo", "fmp", "bench"])) | st.just("null"),
        quoted(st.text(st.characters(exclude_categories=["Cs"]), max_size=12)) | odd_values,
    ),
}
TOKENS["timestamp"], TOKENS["changesPercentage"] = TOKENS["ts"], TOKENS["change_pct"]


SHAPES = ["producer"] * 6 + ["drop", "extra", "shuffle"]


@st.composite
def json_records(
    draw,
    whitespace: str = " \t\r",
    shapes: tuple[str, ...] = (*SHAPES, "comma"),
    edits: tuple[int, ...] = (0, 0, 1, 1, 3),
) -> str:
    """A JSON object: mostly TICK_FIELDS in order with clean values, sometimes not."""
    members = [[name, draw(TOKENS[name][0])] for name in TICK_FIELDS]
    for _ in range(draw(st.sampled_from(edits))):  # values around the rules
        member = members[draw(st.integers(0, len(members) - 1))]
        member[1] = draw(TOKENS[member[0]][1])
    shape = draw(st.sampled_from(shapes))
    if shape == "drop":
        del members[draw(st.integers(0, len(members) - 1))]
    elif shape == "extra":  # another key, or one key twice (the last one counts)
        name = draw(st.sampled_from([*TICK_FIELDS, "timestamp", "changesPercentage", "exchange"]))
        value = draw(TOKENS.get(name, TOKENS["name"])[0])
        members.insert(draw(st.integers(0, len(members))), [name, value])
    elif shape == "shuffle":
        members = draw(st.permutations(members))
    space = st.text(whitespace, max_size=2)
    text = ",".join(
        f'{draw(space)}"{name}"{draw(space)}:{draw(space)}{value}{draw(space)}'
        for name, value in members
    )
    return "{" + text + ("," if shape == "comma" else "") + "}"  # a trailing comma: not JSON


rarely = st.sampled_from([False] * 15 + [True])  # st.integers would favour its bounds


def kinds(*weighted: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(weighted), min_size=1, max_size=12)


@st.composite
def json_lines_texts(draw) -> str:
    lines = []
    for kind in draw(kinds(*["record"] * 6, "junk", "blank")):
        if kind == "record":
            lines.append(draw(json_records()))
        else:
            lines.append(draw(junk_lines if kind == "junk" else st.sampled_from(["", " ", "\t"])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@st.composite
def json_array_texts(draw) -> str:
    elements = []
    for kind in draw(kinds(*["record"] * 12, "junk")):
        if kind == "record":  # a broken element makes the whole array fatal: rarely
            elements.append(draw(json_records(" \t\r\n", (*SHAPES * 5, "comma"), (0, 0, 1))))
        else:
            elements.append(json.dumps(draw(junk_objects)))
    space = st.text(" \t\r\n", max_size=3)
    text = "[" + ",".join(draw(space) + element + draw(space) for element in elements) + "]"
    text = draw(space) + text + draw(space)
    if draw(rarely):  # truncated, or something after the array
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from(["", " []", "x"]))
    return text


def csv_text(token: str) -> str:
    """What a CSV holds for a JSON token: strings unquoted, null empty, numbers as written
    (NUL dropped: it makes the whole object unreadable, which other tests cover)."""
    if token == "null":
        return ""
    try:
        value = json.loads(token)
    except ValueError:
        value = token
    return (value if isinstance(value, str) else token).replace("\x00", "")


@st.composite
def csv_texts(draw) -> str:
    optional = ["volume", "change", "change_pct", "name", "source", "timestamp", "exchange"]
    columns = ["symbol", "price", "ts", *draw(st.lists(st.sampled_from(optional), unique=True))]
    if draw(rarely):  # other header problems
        columns = draw(st.permutations(columns))[: draw(st.integers(1, len(columns)))]
        columns += draw(st.lists(st.sampled_from(["changesPercentage", "symbol", "timestamp"])))
    columns = draw(st.permutations(columns))
    space = st.sampled_from(["", "", " "])
    rows = [[draw(space) + column + draw(space) for column in columns]]
    for kind in draw(kinds(*["record"] * 6, "junk", "blank", "short")):
        if kind in ("record", "short"):
            row = []
            for column in columns:
                clean, other = TOKENS.get(column, TOKENS["source"])
                if column in ("timestamp", "changesPercentage"):  # mostly empty, as usual
                    clean, other = st.just("null"), clean | other
                row.append(csv_text(draw(other if draw(rarely) else clean)))
            rows.append(row[: draw(st.integers(0, len(row) - 1))] if kind == "short" else row)
        else:
            rows.append(draw(junk_rows) if kind == "junk" else [])
    out = io.StringIO()
    newline = draw(st.sampled_from(["\n", "\r\n", "\r\n", "\r"]))
    csv.writer(out, lineterminator=newline).writerows(rows)  # quotes only where needed
    return out.getvalue()


# One producer-shaped record, and its fields at and just past every limit of the fast path.
CANONICAL = {
    "symbol": '"AAPL"', "ts": '"2024-07-05T14:30:00+00:00"', "price": "187.5",
    "volume": "1000", "change": "-1.25", "change_pct": "-0.66", "name": '"Apple Inc."',
    "source": '"yahoo"',
}  # fmt: skip
EDGES = [
    *(("ts", json_text(ts)) for ts in [
        "2024-07-05T20:05:00Z", "2024-07-05T20:05:00.000001Z", "1990-01-01T00:00:00Z",
        "1989-12-31T23:59:59.999999Z", "1990-01-01T05:29:59+05:30", "2024-02-29T12:00:00Z",
        "2023-02-29T12:00:00Z", "2024-04-31T12:00:00Z", "2024-13-05T14:30:00Z",
        "2024-07-05T24:00:00Z", "2024-07-05T23:59:60Z", "2024-07-05 14:30:00+05:30",
        "2024-07-05T14:30:00-00:00", "2024-07-05T14:30:00+23:59", "2024-07-05T14:30:00+24:00",
        "2024-07-05T14:30:00+05:60", "2024-07-05T14:30:00.5Z", "2024-07-05T14:30:00.123456789Z",
        "2024-07-05T14:30:00.1234567891Z", "2024-07-05t14:30:00Z", "0000-01-01T00:00:00Z",
    ]),
    *(("ts", str(epoch)) for epoch in [
        631_152_000, 631_151_999, 1_720_209_900, 1_720_209_901, 99_999_999_999,
        100_000_000_000, 631_152_000_000, 1_720_209_900_000, 1_720_209_900_001,
        999_999_999_999_999, 1_000_000_000_000_000,
    ]),
    *(("price", price) for price in [
        "0", "-0", "0.0", "1e-5", "1E+2", "0.1e1", "1" + "0" * 29, "1" + "0" * 30, "1e99",
        "1e100", "0." + "0" * 39 + "1", "0." + "0" * 40 + "1", '"187.5"',
    ]),
    *(("change", change) for change in ["-0.0", "-0", "null", "1e-99", '"-1.25"']),
    *(("volume", volume) for volume in ["0", "9" * 18, "1" + "0" * 18, "null", "1.0"]),
    *(("symbol", json_text(symbol)) for symbol in ["A..B", "^GSPC", "BRK.B", "EURUSD=X", "aapl"]),
    *(("name", name) for name in ['" x"', '"null"', '"\\u00e9"', '"é"', '" "', '""', "null"]),
    ("source", "null"),
]  # fmt: skip


GOOD_LINES = [  # json.dumps' own spelling of producer records
    json.dumps({**{k: json.loads(v) for k, v in CANONICAL.items()}, "symbol": symbol})
    for symbol in ["AAPL", "MSFT"]
]
