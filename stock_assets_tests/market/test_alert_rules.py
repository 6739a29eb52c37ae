"""The user's alert rules file: YAML and CSV, every rule validated on its own."""

from __future__ import annotations

import hashlib
from pathlib import Path

from stock_assets.market.alert_rules import ANY_SYMBOL, AlertRule, load_rules, parse_rules

YAML_RULES = b"""
rules:
  - {name: aapl-above-200, symbol: aapl, condition: price_above, level: 200, quiet_minutes: 30}
  - {name: any-drop, symbol: "*", condition: change_pct_below, level: -4}
  - {name: typo, symbol: MSFT, condition: price_abve, level: 10}
  - {name: bad-symbol, symbol: "AA PL", condition: price_below, level: 10}
  - {name: aapl-above-200, symbol: MSFT, condition: price_above, level: 1}
  - {name: negative, symbol: MSFT, condition: price_below, level: -1}
  - {name: text-level, symbol: MSFT, condition: move_beyond, level: lots}
  - {name: quiet, symbol: MSFT, condition: move_beyond, level: 3, quiet_minutes: -5}
  - {symbol: MSFT, condition: move_beyond, level: 3}
  - {name: extra, symbol: MSFT, condition: move_beyond, level: 3, colour: red}
  - just text
"""


def test_good_rules_load_and_each_bad_rule_is_named_with_its_reason():
    rules = parse_rules(YAML_RULES, source="rules.yaml")
    assert rules.rules == (
        AlertRule("aapl-above-200", "AAPL", "price_above", 200.0, 30),
        AlertRule("any-drop", ANY_SYMBOL, "change_pct_below", -4.0, 0),
    )
    errors = {e.rule: e.reason for e in rules.errors}
    assert errors.keys() == {
        "typo",
        "bad-symbol",
        "aapl-above-200",
        "negative",
        "text-level",
        "quiet",
        "rule #9",
        "extra",
        "rule #11",
    }
    assert "price_abve" in errors["typo"] and "price_above" in errors["typo"]
    assert "invalid symbol" in errors["bad-symbol"]
    assert "same name" in errors["aapl-above-200"]
    assert "positive" in errors["negative"]
    assert "'lots'" in errors["text-level"]
    assert "quiet_minutes" in errors["quiet"]
    assert "name" in errors["rule #9"]
    assert "colour" in errors["extra"]
    assert rules.version == hashlib.sha256(YAML_RULES).hexdigest()


def test_csv_rules_with_a_header(tmp_path: Path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "name,symbol,condition,level,quiet_minutes\n"
        "tsla-move,TSLA,move_beyond,7.5,\n"
        "nan-level,TSLA,price_above,nan,\n"
    )
    rules = load_rules(path)
    assert rules.rules == (AlertRule("tsla-move", "TSLA", "move_beyond", 7.5, 0),)
    assert [str(e) for e in rules.errors] == ["nan-level: level must be finite"]


def test_an_unreadable_or_unparseable_file_is_one_clear_error(tmp_path: Path):
    missing = load_rules(tmp_path / "nope.yaml")
    assert missing.rules == () and "cannot read the rules file" in missing.errors[0].reason
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [ {name: a")
    (error,) = load_rules(broken).errors
    assert error.rule == str(broken) and "cannot parse" in error.reason
    header = tmp_path / "bad.csv"
    header.write_text("name,level\nx,1\n")
    assert "lacks condition, symbol" in load_rules(header).errors[0].reason


def test_no_rules_file_means_no_rules():
    assert load_rules(None).rules == () and load_rules("").errors == ()
