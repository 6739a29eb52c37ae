"""The user's alert rules file (STOCK_ASSETS_ALERT_RULES), read afresh by every run."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from stock_assets.market.alert_rules import RuleSet, load_rules


class AlertRulesResource(dg.ConfigurableResource):
    """Where the rules live; empty means none. Re-read each run, so an edited file applies to
    the next arrival without restarting anything."""

    path: str = Field(default="", description="YAML or CSV rules file (market/alert_rules.py)")

    def load(self) -> RuleSet:
        return load_rules(self.path or None)
