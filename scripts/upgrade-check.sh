#!/usr/bin/env bash
# What would a dependency upgrade break? Refreshes uv.lock in a throwaway copy of the
# checkout (tracked and new files, no .venv or data), installs it and runs the whole test
# suite there. The checkout and its lock are never touched.
#
#   make upgrade-check                                   # every package to its newest allowed
#   make upgrade-check UPGRADE="--upgrade-package boto3"  # one package (and what it needs)
#
# Writes data/upgrade-check/{changes.txt,uv.lock,test.log}. Exit status is the suite's.
# To adopt an upgrade that passed: `uv lock --upgrade-package NAME` in the checkout (or copy
# the refreshed uv.lock), then `make test` and commit pyproject.toml and uv.lock together.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
out="$checkout/data/upgrade-check"
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$out"

git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from - --create --file - \
    | tar --extract --file - --directory "$copy"

# The copy gets its own virtual environment, data folder and Dagster home.
unset STOCK_ASSETS_DATA_DIR DAGSTER_HOME UV_PROJECT_ENVIRONMENT VIRTUAL_ENV
cd "$copy"
make --no-print-directory .venv/bin/uv
# shellcheck disable=SC2086  # UPGRADE holds uv flags
.venv/bin/uv lock ${UPGRADE:---upgrade} 2>&1 | tee "$out/changes.txt"
cp uv.lock "$out/uv.lock"

status=0
make --no-print-directory test >"$out/test.log" 2>&1 || status=$?
tail -n 25 "$out/test.log"
echo
echo "pins changed: $(grep -c '^Updated' "$out/changes.txt" || true) (data/upgrade-check/changes.txt)"
if [ "$status" -eq 0 ]; then
    echo "upgrade-check: the suite passes on the refreshed lock (data/upgrade-check/uv.lock)"
else
    echo "upgrade-check: the suite FAILS on the refreshed lock: see data/upgrade-check/test.log"
fi
exit "$status"
