"""The harness's report: one Row per figure, the machine it was measured on, and the
Markdown summary (benchmarks/results/summary.md)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass

from harness_scenario import ROOT

GIB = 1024**3


@dataclass
class Row:
    """One line of the summary: our figure, what it is compared to, and the target."""

    benchmark: str
    measure: str
    ours: float
    unit: str
    reference: str = ""
    reference_value: float | None = None
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: informational

    @property
    def status(self) -> str:
        return {True: "pass", False: "MISS", None: "info"}[self.passed]


def machine() -> dict:
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "ram_gib": round(pages * page_size / GIB, 1),
        "commit": commit + ("+local changes" if dirty else ""),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def figure(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def summary_markdown(info: dict, rows: list[Row], sizes: str) -> str:
    lines = [
        "# Benchmark summary",
        "",
        f"{info['date']} - {info['cpus']} CPUs, {info['ram_gib']} GiB RAM - commit "
        f"{info['commit']} - Python {info['python']} - {sizes}",
        "",
        "| benchmark | measure | ours | reference | ratio | target | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reference = row.reference
        if row.reference_value is not None:
            reference += f" {figure(row.reference_value)} {row.unit}".rstrip()
        lines.append(
            f"| {row.benchmark} | {row.measure} | {figure(row.ours)} {row.unit} | "
            f"{reference} | {figure(row.ratio)} | {row.target} | {row.status} |"
        )
    return "\n".join(lines) + "\n"
