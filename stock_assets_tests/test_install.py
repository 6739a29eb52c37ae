"""The install is reproducible: one uv version, a lock that covers every group, and
instance files whose class paths import as written (Dagster no longer rewrites them)."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INSTANCE_FILES = ["dagster.yaml", "deploy/ecs/dagster.yaml", "deploy/local/dagster.yaml"]


def _class_refs(node: object) -> list[tuple[str, str]]:
    """Every `module:`/`class:` pair anywhere in a parsed dagster.yaml."""
    if isinstance(node, dict):
        found = [(node["module"], node["class"])] if {"module", "class"} <= node.keys() else []
        return found + [ref for value in node.values() for ref in _class_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _class_refs(value)]
    return []


@pytest.mark.parametrize("relative", INSTANCE_FILES)
def test_instance_class_paths_import_as_written(relative: str) -> None:
    refs = _class_refs(yaml.safe_load((ROOT / relative).read_text()))
    assert refs, f"{relative} names no pluggable class"
    for module, name in refs:
        assert "._" not in module and not module.startswith("dagster.core"), (
            f"{relative}: {module} is a private or retired module path"
        )
        assert hasattr(importlib.import_module(module), name), f"{relative}: {module}.{name}"


def test_makefile_bootstraps_the_locked_uv() -> None:
    """The uv that pip bootstraps is the one the lock keeps installed (the tooling group)."""
    makefile = (ROOT / "Makefile").read_text()
    bootstrapped = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert bootstrapped, "Makefile sets no UV_VERSION"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"]}
    assert locked["uv"] == bootstrapped.group(1)


def test_the_lock_pins_the_athena_compatible_botocore() -> None:
    """botocore 1.44 speaks rest-json to Athena, which moto's server answers with 404."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"]}
    for name in ("boto3", "botocore"):
        major, minor = (int(part) for part in locked[name].split(".")[:2])
        assert (major, minor) < (1, 44), f"{name} {locked[name]} is locked"
