"""The install is reproducible: one uv version, a lock that covers every group, and
instance files whose class paths import as written (Dagster no longer rewrites them)."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
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


def _dockerfile_uv_syncs() -> tuple[str, list[str]]:
    """The image's uv version and its `uv sync` commands, continuations joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "deploy" / "ecs" / "Dockerfile").read_text())
    version = re.search(r"^ARG UV_VERSION=(\S+)$", text, re.MULTILINE)
    assert version, "the Dockerfile pins no UV_VERSION"
    syncs = [line.split("RUN", 1)[1].strip() for line in text.splitlines() if "RUN uv sync" in line]
    return version.group(1), syncs


def test_image_installs_the_same_lock_with_the_same_uv() -> None:
    version, syncs = _dockerfile_uv_syncs()
    makefile = (ROOT / "Makefile").read_text()
    assert f"UV_VERSION := {version}\n" in makefile
    assert syncs, "the image installs nothing with uv"
    assert all("--frozen" in sync for sync in syncs), "every image install must be --frozen"
    assert "pip install ." not in (ROOT / "deploy" / "ecs" / "Dockerfile").read_text()


@pytest.mark.slow
def test_image_install_commands_build_a_working_environment(tmp_path: Path) -> None:
    """Runs the Dockerfile's `uv sync` steps (no Docker engine here) on a copy of the build
    context: the result imports the code location and ships the SQL, without uv or pytest."""
    context = tmp_path / "src"
    context.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, context / name)
    for name in ("stock_assets", "sql"):
        shutil.copytree(ROOT / name, context / name, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert uv, "uv is not installed next to the test interpreter (make install-test)"
    for sync in _dockerfile_uv_syncs()[1]:
        argv = [uv, *shlex.split(sync)[1:], "--python", sys.executable]
        subprocess.run(argv, cwd=context, env=env, check=True, capture_output=True, timeout=600)
    probe = (
        "import importlib.resources as r, stock_assets.definitions as d; "
        "print(len(list(r.files('stock_assets.sql').joinpath('views').iterdir())))"
    )
    views = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env={k: v for k, v in env.items() if not k.startswith("STOCK_ASSETS_")},
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout.split()[-1]
    assert int(views) == len(list((ROOT / "sql" / "views").glob("*.sql")))
    installed = {path.name for path in (venv / "bin").iterdir()}
    assert "dagster-webserver" in installed and not {"uv", "pytest"} & installed


def test_every_subpackage_is_in_the_package_list():
    """The list in pyproject.toml is what the wheel and the image carry."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "stock_assets").rglob("__init__.py")
    }
    assert listed == found | {"stock_assets.sql"}
