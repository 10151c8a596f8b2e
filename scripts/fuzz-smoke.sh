#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a short, bounded time each.
# The committed seed corpora (testdata/fuzz) always run as part of `go test`;
# this adds a little fresh exploration on top.
set -euo pipefail
fuzztime=${1:-50000x}
# Every input that finds new coverage is minimized first, for up to 60 s by
# default; for targets whose inputs are whole files (FuzzTopology) that alone
# would eat the run. A bounded count keeps the smoke short; a crasher is
# still reported, only less minimized.
minimizetime=${FUZZMINIMIZETIME:-200x}
cd "$(dirname "$0")/.."
total=0
while IFS= read -r file; do
	pkg=./$(dirname "$file")
	for fn in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | awk '{print $2}'); do
		go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg" >/tmp/gwlb-lab-fuzz.$$ 2>&1 || {
			cat /tmp/gwlb-lab-fuzz.$$
			rm -f /tmp/gwlb-lab-fuzz.$$
			echo "fuzz: $pkg $fn failed"
			exit 1
		}
		total=$((total + 1))
	done
done < <(git ls-files '*_test.go' 2>/dev/null | xargs -r grep -l '^func Fuzz' || true)
rm -f /tmp/gwlb-lab-fuzz.$$
echo "fuzz: $total targets, $fuzztime executions each, no failures"
