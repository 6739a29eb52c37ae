"""User alert rules: a versioned file of conditions evaluated on every streamed quote.

The file (``STOCK_ASSETS_ALERT_RULES``) is YAML (a ``rules:`` list, or a bare list) or CSV
with a header. Each rule has:

* ``name``: unique, letters, digits, ``_.-`` (at most 64): the ``rule`` column of
  ``gold.live_signals`` and part of the alert's identity;
* ``symbol``: a ticker, or ``*`` for every symbol;
* ``condition``: ``price_above`` / ``price_below`` (``level`` is a price), or
  ``change_pct_above`` / ``change_pct_below`` / ``move_beyond`` (``level`` is a percent
  change from the previous session's close; ``move_beyond`` means either direction);
* ``level``: a finite number (positive for prices and ``move_beyond``);
* ``quiet_minutes`` (optional, default 0): after a rule fires for a symbol, crossings within
  this many minutes of it stay quiet.

A bad rule is reported with its name (or position) and the reason, and the other rules
still run: one typo never silences every alert.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from stock_assets.market.symbols import InvalidSymbolError, normalize_symbol

PRICE_ABOVE: Final = "price_above"
PRICE_BELOW: Final = "price_below"
CHANGE_PCT_ABOVE: Final = "change_pct_above"
CHANGE_PCT_BELOW: Final = "change_pct_below"
MOVE_BEYOND: Final = "move_beyond"
PRICE_CONDITIONS: Final = (PRICE_ABOVE, PRICE_BELOW)
CONDITIONS: Final = (*PRICE_CONDITIONS, CHANGE_PCT_ABOVE, CHANGE_PCT_BELOW, MOVE_BEYOND)
ANY_SYMBOL: Final = "*"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_FIELDS: Final = ("name", "symbol", "condition", "level", "quiet_minutes")


@dataclass(frozen=True)
class AlertRule:
    name: str
    symbol: str  # a normalized ticker or ANY_SYMBOL
    condition: str
    level: float
    quiet_minutes: int = 0

    def applies_to(self, symbol: str) -> bool:
        return self.symbol in (ANY_SYMBOL, symbol)

    @property
    def on_price(self) -> bool:
        return self.condition in PRICE_CONDITIONS

    def describe(self) -> str:
        unit = "" if self.on_price else "%"
        return f"{self.condition.replace('_', ' ')} {self.level:g}{unit}"


@dataclass(frozen=True)
class RuleError:
    rule: str  # its name, or "rule #N" when it has none
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[AlertRule, ...]
    errors: tuple[RuleError, ...]
    version: str  # sha256 of the file's bytes ("" when there is no file)
    source: str


def load_rules(path: str | Path | None) -> RuleSet:
    """Read and validate a rules file; a missing path means no rules."""
    if not path:
        return RuleSet((), (), "", "")
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        error = RuleError(str(path), f"cannot read the rules file: {exc.strerror or exc}")
        return RuleSet((), (error,), "", str(path))
    return parse_rules(data, source=str(path))


def parse_rules(data: bytes, source: str) -> RuleSet:
    """Validate rules from a file's bytes (YAML, or CSV when the name ends in .csv)."""
    version = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
        entries = _csv_entries(text) if source.lower().endswith(".csv") else _yaml_entries(text)
    except (UnicodeDecodeError, yaml.YAMLError, csv.Error, ValueError) as exc:
        error = RuleError(source, f"cannot parse the rules file: {exc}")
        return RuleSet((), (error,), version, source)
    rules: list[AlertRule] = []
    errors: list[RuleError] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        label = _label(entry, position)
        try:
            rule = _rule(entry)
        except ValueError as exc:
            errors.append(RuleError(label, str(exc)))
            continue
        if rule.name in seen:
            errors.append(RuleError(label, "another rule has the same name"))
            continue
        seen.add(rule.name)
        rules.append(rule)
    return RuleSet(tuple(rules), tuple(errors), version, source)


def _yaml_entries(text: str) -> list[object]:
    doc = yaml.safe_load(text)
    if doc is None:
        return []
    if isinstance(doc, dict):
        doc = doc.get("rules", [])
    if not isinstance(doc, list):
        raise ValueError("expected a list of rules (or a 'rules:' key holding one)")
    return doc


def _csv_entries(text: str) -> list[object]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "symbol", "condition", "level"} - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"the header lacks {', '.join(sorted(missing))}")
    return [{k: v for k, v in row.items() if v not in (None, "")} for row in reader]


def _label(entry: object, position: int) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and _NAME.match(name) else f"rule #{position}"


def _rule(entry: object) -> AlertRule:
    if not isinstance(entry, dict):
        raise ValueError("a rule must be a mapping of name, symbol, condition, level")
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("name must be 1-64 letters, digits, '_', '.' or '-'")
    condition = entry.get("condition")
    if condition not in CONDITIONS:
        raise ValueError(f"condition {condition!r} is not one of {', '.join(CONDITIONS)}")
    level = _number(entry.get("level"), "level")
    if (condition in PRICE_CONDITIONS or condition == MOVE_BEYOND) and level <= 0:
        raise ValueError(f"level must be positive for {condition}")
    quiet = _number(entry.get("quiet_minutes", 0), "quiet_minutes")
    if quiet < 0 or quiet != int(quiet):
        raise ValueError("quiet_minutes must be a whole number of minutes >= 0")
    return AlertRule(name, _symbol(entry.get("symbol")), condition, level, int(quiet))


def _symbol(value: object) -> str:
    if value == ANY_SYMBOL:
        return ANY_SYMBOL
    if not isinstance(value, str):
        raise ValueError("symbol must be a ticker or '*'")
    try:
        return normalize_symbol(value)
    except InvalidSymbolError as exc:
        raise ValueError(f"symbol: {exc}") from None


def _number(value: object, field: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite")
    return number
