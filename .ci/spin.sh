#!/usr/bin/env bash
# spin.sh: checks the protocol models exhaustively with spin, part by part:
# internal/fq/model/ring.pml (the cell ring, calls, references) and
# internal/fq/model/bytes.pml (the byte ring and its reservation), and
# checks that each model catches its seeded bugs: each mutation must make
# spin report an error. Prints the states explored, the time and the
# verdict of each run. A run with -DLIVE is a liveness check (non-progress
# cycles under weak fairness); the others check safety (assertions and
# invalid end states).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=internal/fq/model
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/ring.pml" "$dir/bytes.pml" "$work/"
cd "$work"

fail=0
model=ring.pml
run() { # expect (ok|error), description, spin -D flags... (the model is $model)
	local expect=$1 what=$2
	shift 2
	local cflags=-DSAFETY pflags=
	case " $* " in *" -DLIVE "*) cflags=-DNP pflags="-l -f" ;; esac
	local t0
	t0=$(date +%s.%N)
	spin "$@" -a "$model" >/dev/null
	gcc -O2 -w $cflags -o pan pan.c # -w: pan.c's bounds-checked indexing makes gcc warn
	local out errors states
	# shellcheck disable=SC2086
	out=$(./pan $pflags -m2000000 2>&1)
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out")
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out")
	local verdict=ok secs
	[ "${errors:-1}" -eq 0 ] || verdict=error
	# A search cut short by -m proves nothing.
	! grep -q 'max search depth too small' <<<"$out" || [ "$verdict" = error ] || verdict=incomplete
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }')
	printf 'spin: %-64s %10s states %6s  %s\n' "$what" "$states" "$secs" "$verdict$([ "$verdict" = error ] && grep -m1 -o 'pan:1: .*' <<<"$out" | sed 's/^pan:1: / (/;s/$/)/')"
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

model=bytes.pml
run ok "bytes: a waiter (reservation) and a small post, pads, wrap" -DCFG=1
run ok "bytes: the same from another slot and position" -DCFG=1 -DSTART=33
run ok "bytes: two waiters taking the reservation in turns" -DCFG=2
run ok "bytes: a Go waiter, a C waiter and a small post" -DGO_WAITER -DNO_TIMEOUT
run ok "bytes: the same, the C waiter giving up its reservation" -DGO_WAITER
run ok "bytes: Next without its ring guard (not needed: headers zeroed)" -DNO_RING_GUARD
run ok "bytes: a waiter not starved by small posts (liveness)" -DLIVE
run ok "bytes: the same, a waiter's record of the ring's half" -DLIVE -DLW=4
run error "mutation: the consumer does not zero the headers it reads" -DNO_ZERO
run error "mutation: the same, without cbytes.c's check (Go's Next)" -DNO_ZERO -DGO_NEXT
run error "mutation: the consumer zeroes the headers after it stores head" -DHEAD_BEFORE_ZERO
run error "mutation: the producer stores the header before the payload" -DHEADER_FIRST
run error "mutation: no pad: a record split by the data area's end" -DPAD_SPLIT
run error "mutation: the claim's CAS leaves the pad out" -DPAD_UNCLAIMED
run error "mutation: an empty message takes no data (fq_rec_size(0) = 0)" -DZERO_SIZE
run error "mutation: small posts ignore the reservation" -DNO_RESERVE
run error "mutation: small posts ignore the reservation (liveness)" -DLIVE -DNO_RESERVE
run error "mutation: a reservation without room for a pad (liveness)" -DLIVE -DSMALL_RESERVE
run error "mutation: the holder leaves its own reservation free" -DHOLDER_BLIND
run error "mutation: a waiter reads space_seq after its claim" -DLATE_SEEN
run error "mutation: a waiter reads space_seq after its claim, two waiters" -DCFG=2 -DLATE_SEEN
run error "mutation: a C holder's unreserve does not reach Go waiters" -DGO_WAITER -DNO_GO_WAKE
exit $fail
