#!/usr/bin/env bash
# Audit the installed dependency set (the virtual environment) for known vulnerabilities,
# against PyPI's JSON API (pip-audit's "pypi" service).
#
# Exit codes: 0 = audited, nothing known-vulnerable; 1 = at least one vulnerable package
# (listed); 2 = the audit itself broke. When PyPI cannot be reached (offline CI, a proxy)
# the script says "not audited: <reason>" and exits 0: a skipped audit is reported, never
# presented as a pass. Our own package (installed editable) is not audited.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
PYPI_PROBE="https://pypi.org/pypi/pip/json"

if ! "$PYTHON" -m pip_audit --version >/dev/null 2>&1; then
    echo "not audited: pip-audit is not installed in $PYTHON (make install-test)"
    exit 0
fi

if ! reason=$("$PYTHON" - "$PYPI_PROBE" 2>&1 <<'PY'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=10).close()
except Exception as exc:  # any failure to reach the service means "cannot audit"
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(1)
PY
); then
    echo "not audited: cannot reach the PyPI vulnerability API ($PYPI_PROBE): $reason"
    exit 0
fi

report=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$report" "$errors"' EXIT
status=0
"$PYTHON" -m pip_audit --vulnerability-service pypi --skip-editable --progress-spinner off \
    --format json --output "$report" 2>"$errors" || status=$?

# pip-audit exits 1 both for findings and for its own failures: the JSON report tells them apart.
result=0
"$PYTHON" - "$report" <<'PY' || result=$?
import json
import sys

try:
    with open(sys.argv[1]) as handle:
        data = json.load(handle)
except (OSError, ValueError):
    sys.exit(3)  # no report: pip-audit itself failed
deps = [d for d in data.get("dependencies", []) if "editable" not in d.get("skip_reason", "")]
skipped = [d for d in deps if "skip_reason" in d]
if deps and len(skipped) == len(deps):
    # e.g. a registry mirror that serves /pypi/<name>/json but not /pypi/<name>/<version>/json
    print(f"not audited: PyPI gave no vulnerability data for any of {len(deps)} packages "
          f"(first: {skipped[0]['skip_reason']})")
    sys.exit(0)
vulnerable = [d for d in deps if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
        print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixes})")
for dep in skipped:
    print(f"not audited: {dep['name']}: {dep['skip_reason']}")
print(f"audited {len(deps) - len(skipped)} installed packages against PyPI: "
      f"{len(vulnerable)} vulnerable, {len(skipped)} not audited")
sys.exit(1 if vulnerable else 0)
PY
if [ "$result" -eq 3 ]; then
    if grep -qiE "connection|timed out|timeout|resolve|network|unreachable" "$errors"; then
        echo "not audited: PyPI became unreachable during the audit: $(tail -n 1 "$errors")"
        exit 0
    fi
    echo "audit failed (pip-audit exit $status):" >&2
    cat "$errors" >&2
    exit 2
fi
exit "$result"
