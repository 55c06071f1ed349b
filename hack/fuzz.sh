#!/usr/bin/env bash
# Runs every fuzz test (func FuzzXxx in *_test.go), one after another, each for FUZZTIME with
# FUZZMINIMIZETIME; `make fuzz` and `make fuzz-short` call it. One at a time, since each already
# uses every core. A failing input is written to the package's testdata/fuzz/FuzzXxx/; the
# other fuzzers still run, and the script fails at the end.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" as
# -fuzztime runs out, having found nothing (golang/go#75804, fixed in Go 1.27): the deadline
# reaches the coordinator before its workers' context is cancelled. CI's 5 s runs on 2 busy
# cores hit it. Such a run is told apart from a finding by what Go leaves behind: a finding
# writes its input to testdata/fuzz/FuzzXxx/ and prints "Failing input written to", and a
# failing seed prints its own lines under the --- FAIL. A run that left nothing but the bare
# deadline message is reported as that race and counted as passed: it strikes once the fuzz
# time is spent, when anything found would already be written (a rerun would only meet it
# again: on 2 busy cores it hit 2 of 15 fuzzers in one run). Drop this when go.mod moves to
# Go 1.27.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10m}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}

# corpus_state DIR FUZZ prints the names in DIR/testdata/fuzz/FUZZ, one a line.
corpus_state() {
	ls -1 "$1/testdata/fuzz/$2" 2>/dev/null || true
}

# only_deadline LOG succeeds when the go test output in LOG failed with nothing but the bare
# deadline message: one --- FAIL line for the target, followed only by that message.
only_deadline() {
	awk -v target="$2" '
		index($0, "--- FAIL: " target " (") == 1 { fails++; infail = 1; next }
		/^--- FAIL/ { other = 1 }
		/Failing input written to|failure while testing seed corpus|panic:/ { other = 1 }
		infail && /^    / {
			if ($0 == "    context deadline exceeded") { deadline++ } else { other = 1 }
			next
		}
		{ infail = 0 }
		END { exit !(fails == 1 && deadline == 1 && !other) }
	' "$1"
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

failed=
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' cmd plugin policyload simulate internal | xargs -n1 dirname | sort -u); do
	for f in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		echo "== ./$dir $f ($FUZZTIME)"
		before=$(corpus_state "$dir" "$f")
		"$GO" test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "./$dir" 2>&1 | tee "$log"
		if [ "${PIPESTATUS[0]}" -eq 0 ]; then
			continue
		fi
		after=$(corpus_state "$dir" "$f")
		if [ "$before" = "$after" ] && only_deadline "$log" "$f"; then
			echo "fuzz: ./$dir $f: a bare \"context deadline exceeded\" and no input written: Go's fuzztime race (golang/go#75804), not a finding"
			continue
		fi
		failed="$failed ./$dir:$f"
	done
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
