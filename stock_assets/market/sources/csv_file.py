"""Daily bars from local CSV files (Yahoo-style exports), for offline loads and backfills.

Accepted layouts, in one file or a folder of ``*.csv`` files:

* one file per symbol named ``<SYMBOL>.csv`` with ``Date,Open,High,Low,Close,Adj Close,Volume``
  (``Adj Close`` optional), as Yahoo's "Download" button writes it;
* a multi-symbol file with an extra ``Symbol`` column (its file name does not matter).

Corporate actions come from ``corporate_actions.csv`` in the folder (or next to the file):
``symbol,ex_date,action,value`` with action ``split`` (value: new shares per old share) or
``dividend`` (value: cash per share); a bad line is refused naming the file and line.

Files are read with the csv module (quoted fields, commas inside quotes, a UTF-8 BOM), and
each data line becomes one record that remembers its file and line, so a bad line is
rejected on its own with a reason that points at it. Symbols are never turned into paths:
only files found by listing the folder are opened.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from stock_assets.market.actions import (
    ActionError,
    action_frame,
    action_record,
    empty_actions,
    unique_actions,
)
from stock_assets.market.sources.base import (
    Extraction,
    MarketDataSource,
    PriceQuery,
    RawRecord,
    RecordError,
    SourceError,
    dumps_record,
    load_json_object,
)
from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

log = logging.getLogger(__name__)

ACTIONS_FILE = "corporate_actions.csv"
ACTION_HEADER = ("symbol", "ex_date", "action", "value")
# Record keys added next to the file's own columns.
META_KEYS = ("symbol", "file", "line")
_MISSING = {"", "null", "none", "n/a", "na", "-"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass
class _Scan:
    """What reading one file produced."""

    records: list[RawRecord] = field(default_factory=list)
    symbols_seen: set[str] = field(default_factory=set)
    error: str | None = None


class CsvFileSource(MarketDataSource):
    """Reads a CSV file or a folder of them; nothing leaves the machine."""

    name = "csv"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def extract_data(self, query: PriceQuery) -> Extraction:
        extraction = Extraction(source=self.name, raw_suffix=".csv")
        wanted = set(query.symbols)
        seen: set[str] = set()
        used: list[bytes] = []
        for file in self._files():
            header = _peek_header(file)
            multi = header is not None and _symbol_column(header) is not None
            symbol = None
            if not multi:
                try:
                    symbol = normalize_symbol(file.stem)
                except InvalidSymbolError as exc:
                    extraction.symbol_errors[file.name] = (
                        f"file name {file.name!r} is not a valid symbol ({exc}); "
                        "name per-symbol files <SYMBOL>.csv or add a Symbol column"
                    )
                    continue
                if symbol not in wanted:
                    continue
            data = file.read_bytes()
            scan = _scan(file.name, data, symbol, wanted, query)
            seen |= scan.symbols_seen
            extraction.records.extend(scan.records)
            if scan.error:
                extraction.symbol_errors[symbol or file.name] = scan.error
            if scan.records:
                used.append(data)
        for symbol in query.symbols:
            if symbol not in seen and symbol not in extraction.symbol_errors:
                extraction.symbol_errors[symbol] = (
                    f"no CSV data for {symbol} in {self.path.name!r}: expected {symbol}.csv "
                    "or rows with that Symbol in a multi-symbol file"
                )
        extraction.raw_body = b"".join(used)
        return extraction

    @staticmethod
    def parse_record(payload: str) -> dict[str, object]:
        record = load_json_object(payload)
        where = _where(record)
        if "error" in record:  # a line the csv module could not read (e.g. a huge field)
            raise RecordError(f"{where}: {record['error']}")
        if "fields" in record:  # a line whose field count did not match the header
            header, fields = record.get("header") or [], record.get("fields") or []
            raise RecordError(
                f"{where}: expected {len(header)} fields ({', '.join(map(str, header))}), "
                f"found {len(fields)}"
            )
        symbol = record.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise RecordError(f"{where}: no symbol")
        columns = {str(k).strip().lower(): v for k, v in record.items() if k not in META_KEYS}
        day = _iso_date(columns.get("date"))
        if day is None:
            raise RecordError(f"{where}: date {columns.get('date')!r} is not YYYY-MM-DD")
        close = _value(columns.get("close"))
        return {
            "symbol": symbol,
            "trade_date": day.isoformat(),
            "open": _value(columns.get("open")),
            "high": _value(columns.get("high")),
            "low": _value(columns.get("low")),
            "close": close,
            # No Adj Close column (e.g. an export of adjusted prices): the close stands in.
            "adj_close": _value(columns["adj close"]) if "adj close" in columns else close,
            "volume": _value(columns.get("volume")),
        }

    def corporate_actions(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """The actions file's rows for `symbols` with ex-dates in [start, end]; none without
        the file. ActionError naming the file and line for a bad row."""
        folder = self.path if self.path.is_dir() else self.path.parent
        file = folder / ACTIONS_FILE
        if not file.is_file():
            return empty_actions()
        wanted = set(self.transform_query(symbols, start, start).symbols)
        records = []
        with file.open(encoding="utf-8-sig", newline="") as handle:
            rows = csv.DictReader(handle)
            if sorted(h.strip().lower() for h in rows.fieldnames or ()) != sorted(ACTION_HEADER):
                raise ActionError(f"{file}: header must be {','.join(ACTION_HEADER)}")
            for row in rows:
                values = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                where = f"{file} line {rows.line_num}"
                records.append(action_record(*(values[h] for h in ACTION_HEADER), where=where))
        frame = unique_actions(action_frame(records), str(file))
        chosen = frame.symbol.isin(wanted) & (frame.ex_date >= start) & (frame.ex_date <= end)
        return frame[chosen].reset_index(drop=True)

    def _files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if self.path.is_dir():
            return sorted(
                p
                for p in self.path.iterdir()
                if p.is_file() and p.suffix.lower() == ".csv" and p.name != ACTIONS_FILE
            )
        raise SourceError(f"csv: {self.path} is neither a CSV file nor a folder")


# -- reading -------------------------------------------------------------------------------------


def _peek_header(file: Path) -> list[str] | None:
    """The header row, read cheaply to tell multi-symbol files from per-symbol ones."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _symbol_column(header: list[str]) -> int | None:
    names = [h.strip().lower() for h in header]
    return names.index("symbol") if "symbol" in names else None


def _scan(
    file_name: str, data: bytes, symbol: str | None, wanted: set[str], query: PriceQuery
) -> _Scan:
    """Records of one file: ``symbol`` for a per-symbol file, None for a Symbol column."""
    scan = _Scan()
    try:
        text = data.decode("utf-8-sig")  # strips a BOM at the start of the file
    except UnicodeDecodeError as exc:
        scan.error = f"{file_name} is not UTF-8 text: {exc}"
        return scan
    try:
        for line, header, row in _rows(text):
            if isinstance(row, csv.Error):  # this line only: reading goes on after it
                if symbol is None:  # no Symbol to file it under: reported for the file
                    scan.error = f"{file_name} line {line}: unreadable CSV: {row}"
                else:
                    meta = {"symbol": symbol, "file": file_name, "line": line}
                    payload = dumps_record({**meta, "error": f"unreadable CSV: {row}"})
                    scan.records.append(RawRecord(symbol, None, payload))
                continue
            row_symbol = symbol or _row_symbol(header, row)
            if row_symbol is None or row_symbol not in wanted:
                continue
            scan.symbols_seen.add(row_symbol)
            day = _row_date(header, row)
            if day is not None and not (query.start <= day <= query.end):
                continue
            meta = {"symbol": row_symbol, "file": file_name, "line": line}
            if len(row) == len(header):
                payload = {**dict(zip(header, row, strict=True)), **meta}
            else:  # kept as a record so the rejection names the line
                payload = {**meta, "header": header, "fields": row}
            scan.records.append(
                RawRecord(
                    symbol=row_symbol,
                    trade_date=day.isoformat() if day else None,
                    payload=dumps_record(payload),
                )
            )
    except _NoHeader as exc:
        scan.error = f"{file_name}: {exc}"
    except csv.Error as exc:  # the header line itself cannot be read
        scan.error = f"{file_name}: unreadable CSV header: {exc}"
    if symbol is not None and not scan.error:
        scan.symbols_seen.add(symbol)  # a per-symbol file with no rows in range is no error
    return scan


class _NoHeader(ValueError):
    pass


def _rows(text: str) -> Iterator[tuple[int, list[str], list[str] | csv.Error]]:
    """(line number where the row starts, header, row) for each non-blank data row; a row
    the csv module cannot read comes as its csv.Error, so one bad line costs only itself."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise _NoHeader("empty file or no header row")
    header = [h.strip() for h in header]
    if "date" not in (h.lower() for h in header):
        raise _NoHeader(f"header has no Date column: {header}")
    end_of_previous = reader.line_num
    while True:
        try:
            row: list[str] | csv.Error = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the csv module's limit
            row = exc
        start = end_of_previous + 1
        end_of_previous = reader.line_num
        if isinstance(row, list) and not any(cell.strip() for cell in row):
            continue
        yield start, header, row


def _row_symbol(header: list[str], row: list[str]) -> str | None:
    position = _symbol_column(header)
    if position is None or position >= len(row):
        return None
    try:
        return normalize_symbol(row[position])
    except InvalidSymbolError:
        return None  # cannot be a requested symbol


def _row_date(header: list[str], row: list[str]) -> dt.date | None:
    position = [h.lower() for h in header].index("date")
    return _iso_date(row[position]) if position < len(row) else None


def _iso_date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text).date() if len(text) > 10 else None
    except ValueError:
        return None


def _value(value: object) -> object:
    """Missing markers -> None, "1,234,567" -> "1234567"; anything else as written."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in _MISSING:
        return None
    return text.replace(",", "") if _THOUSANDS.match(text) else text


def _where(record: dict[str, object] | object) -> str:
    if not isinstance(record, dict):
        return "record"
    file, line = record.get("file"), record.get("line")
    if file and line:
        return f"{file} line {line}"
    return f"line {line}" if line else "record"
