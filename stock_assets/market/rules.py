"""The vocabulary of the data-quality checks: rules grouped into named checks (no Dagster).

A rule is one test on a `Scope` (the rows a check loaded, the days they stand for, and
the related tables it compares with); a check is a named group of rules on one table. A
failing ERROR rule makes its check blocking-fail; everything else is informative (WARN).
The catalogue of which table gets which checks is market/catalogue.py; the rules
themselves are market/quality.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stock_assets.market import quality
from stock_assets.market.schemas import TableSchema
from stock_assets.market.watchlist import default_listings


@dataclass(frozen=True)
class Scope:
    """What a check's rules see: every row the check loaded (the run's partitions)."""

    rows: pd.DataFrame
    days: list[dt.date]  # the run's trading days; empty for an unpartitioned table
    now: dt.datetime
    related: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    watchlist: tuple[str, ...] = ()
    symbol_errors: Mapping[dt.date, Mapping[str, str]] = field(default_factory=dict)
    history_start: dt.date | None = None  # the first trading day the platform loads


@dataclass(frozen=True)
class Rule:
    """One test inside a check. A failing `error` rule makes the check fail at ERROR."""

    what: str  # the rule in a few words, for the check's description
    evaluate: Callable[[Any], quality.Outcome]  # of a Scope (tables) or ViewFacts (views)
    error: bool = False


@dataclass(frozen=True)
class Check:
    """One asset check: a named group of rules, what it protects, and what it reads."""

    name: str
    purpose: str
    rules: tuple[Rule, ...]
    reads: Mapping[str, str] = field(default_factory=dict)  # related tables: name -> layer.table
    # Related tables of which the rules need only which keys exist: name -> key columns. Read
    # as their distinct values, so an unpartitioned check never loads a whole history.
    key_reads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uses_watchlist: bool = False
    notes: Mapping[str, str] = field(default_factory=dict)  # shown with every result
    gates: bool = True  # False: an ERROR failure shows as such but stops nothing

    @property
    def blocking(self) -> bool:
        """Blocking when any rule is an error (and the check gates); a failure of only WARN
        rules still lets downstream assets run (gating needs severity ERROR)."""
        return self.gates and any(rule.error for rule in self.rules)

    @property
    def description(self) -> str:
        rules = "; ".join(f"{r.what} [{'ERROR' if r.error else 'WARN'}]" for r in self.rules)
        return f"{self.purpose} Rules: {rules}."


def judge(rule: Rule, scope: Any) -> quality.Outcome:
    """A rule's outcome; a rule that cannot read the data fails, and the others still run."""
    try:
        return rule.evaluate(scope)
    except Exception as exc:
        return quality.failed_to_evaluate(rule.what, exc)


def failing_days(outcome: quality.Outcome, days: Sequence[dt.date]) -> set[dt.date]:
    """The days an outcome fails on; evidence without a trade_date fails every day."""
    if outcome.passed:
        return set()
    if outcome.error is not None or "trade_date" not in outcome.failing.columns:
        return set(days)
    return set(outcome.failing["trade_date"])


# -- checks and rules shared by several tables --------------------------------------------


def schema_check(contract: TableSchema) -> Check:
    return Check(
        "schema",
        f"The stored {contract.qualified_name} keeps its contract (market/schemas.py), so "
        "readers and downstream assets see the declared table.",
        (
            Rule(
                "every contract column present with its type",
                lambda s: quality.schema_matches(s.rows, contract),
                error=True,
            ),
        ),
    )


def keys_check(not_null: Sequence[str], unique: Sequence[str]) -> Check:
    return Check(
        "keys",
        "Every row is addressable: a row without its key cannot be joined or replaced, and "
        "a duplicate double-counts (and breaks the recursive indicators).",
        (
            Rule(
                f"no NULL in {', '.join(not_null)}",
                lambda s: quality.no_nulls(s.rows, not_null),
                error=True,
            ),
            Rule(
                f"one row per ({', '.join(unique)})",
                lambda s: quality.unique(s.rows, unique),
                error=True,
            ),
        ),
    )


def values_check(purpose: str, *rules: Rule) -> Check:
    return Check("values", purpose, rules)


def not_in_future(*columns: str) -> Rule:
    return Rule(
        f"no {', '.join(columns)} in the future (tolerance {quality.FUTURE_TOLERANCE})",
        lambda s: quality.not_in_future(s.rows, columns, s.now),
    )


def positive(*columns: str, error: bool = False) -> Rule:
    return Rule(
        f"{', '.join(columns)} finite and > 0",
        lambda s: quality.positive(s.rows, columns),
        error=error,
    )


def non_negative(*columns: str, error: bool = False, allow_null: bool = False) -> Rule:
    return Rule(
        f"{', '.join(columns)} >= 0" + (" where present" if allow_null else ""),
        lambda s: quality.non_negative(s.rows, columns, allow_null=allow_null),
        error=error,
    )


NO_HOLIDAY_ROWS = Rule("no row dated on an NYSE holiday", lambda s: quality.on_sessions(s.rows))
ROWS_EVERY_DAY = Rule("every trading day has rows", lambda s: quality.rows_on_days(s.rows, s.days))


def listed_since() -> dict[str, dt.date | None]:
    return {symbol: listing.listed_since for symbol, listing in default_listings().items()}


WATCHLIST_COMPLETE = Rule(
    "every watchlist symbol present each day unless not listed yet, failed at the source "
    "or (silver) rejected into silver.price_rejects",
    lambda s: quality.watchlist_covered(
        s.rows, s.days, s.watchlist, listed_since(), s.related.get("rejects"), s.symbol_errors
    ),
)


def completeness_check(*rules: Rule, reads: Mapping[str, str] | None = None) -> Check:
    return Check(
        "completeness",
        "Nothing is misfiled or missing: a row on a closed day, an empty session or a missing "
        "symbol means a failed or misfiled pull.",
        rules,
        reads=reads or {},
        uses_watchlist=WATCHLIST_COMPLETE in rules,
    )
