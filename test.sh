#!/usr/bin/env bash
# Runs every test against a real PostgreSQL: the one in INFERY_TEST_DB, or a throwaway cluster per run.
# Ends with a line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")"

results=$(mktemp -d)
dotnet test Infery.sln -c Release --logger "trx" --results-directory "$results" "$@"
status=$?

summary=$(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    skipped += int(counters.get("notExecuted", 0))
line = f"{passed} passed, {failed} failed"
print(line + (f", {skipped} skipped" if skipped else ""))
PY
)
rm -rf "$results"
echo "$summary"
exit $status
