#!/usr/bin/env bash
# spin.sh: checks the protocol model (internal/fq/model/ring.pml)
# exhaustively with spin, part by part, and checks that the model catches
# the seeded bugs: each mutation must make spin report an error. Prints the
# states explored and the verdict of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
model=internal/fq/model/ring.pml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/"
cd "$work"

fail=0
run() { # expect (ok|error), description, spin -D flags...
	local expect=$1 what=$2
	shift 2
	spin "$@" -a ring.pml >/dev/null
	gcc -O2 -DSAFETY -o pan pan.c
	local out errors states
	out=$(./pan -m2000000 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out")
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out")
	local verdict=ok
	[ "${errors:-1}" -eq 0 ] || verdict=error
	printf 'spin: %-60s %10s states  %s\n' "$what" "$states" "$verdict$([ "$verdict" = error ] && grep -m1 -o 'pan:1: .*' <<<"$out" | sed 's/^pan:1: / (/;s/$/)/')"
	if [ "$verdict" != "$expect" ]; then
		echo "spin: FAIL: $what: expected $expect" >&2
		fail=1
	fi
}

run ok "ring: claim, publish, park/wake, waiting for room, reuse" -DPART=1
run ok "ring, Close racing the producers" -DPART=1 -DCLOSE_EARLY
run ok "ring: 3 producers (2 waiting for room), 1 message each" -DPART=1 -DPRODUCERS=3 -DMSGS=1
run ok "a call abandoned on timeout racing its completion" -DPART=2
run ok "references: C counts and the Go side's bit" -DPART=3
run error "mutation: the consumer's Dekker step weakened" -DPART=1 -DWEAK_DEKKER
run error "mutation: a waiter checks for room before counting itself" -DPART=1 -DWEAK_WAITER
run error "mutation: a call's result written without the CAS" -DPART=2 -DLATE_WRITE
run error "mutation: a producer that wakes only a consumer parked on the fd" -DPART=1 -DFD_ONLY
exit $fail
