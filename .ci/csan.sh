#!/usr/bin/env bash
# csan.sh: builds the C-only tests in testdata/csan together with the
# library C (no Go) under ThreadSanitizer and under AddressSanitizer+UBSan,
# runs each build, and fails on any sanitizer report. The canary runs first
# and must be caught by each sanitizer: a clean run then means the sanitizer
# looked, not that it was silently off.
#
#   stress.c  the lock-free post path and the queue lifecycle; its size is
#             set by the arguments.
#   calls.c   the blocking paths, foreign_post_wait and foreign_call, on
#             futexes and on the condition-variable fallback; fixed sizes
#             (a few seconds under each sanitizer), whatever the arguments.
#   bytes.c   byte rings: foreign_postv and foreign_postv_wait of messages
#             of any length, pads and the 44-bit wrap, the reservation,
#             close races, bad input, and foreign_callv with results of any
#             length (with the C byte consumer, cbytes.c); fixed sizes, as
#             calls.c.
#
# Usage: .ci/csan.sh [messages-per-producer [close-rounds [seed]]]
# Needs gcc with its sanitizer runtimes (Debian: libtsan2, libasan8,
# libubsan1; .ci/run installs them if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

args=("${1:-200000}" "${2:-1000}")
calls_args=(1) # calls.c's and bytes.c's scale
if [ $# -ge 3 ]; then
	args+=("$3")
	calls_args+=("$3")
fi

# The library's C is one translation unit, internal/fq/c/fq.c, which each
# test includes whole (its functions are static), with the C consumer
# (cconsumer.c; for byte rings, cbytes.c).

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -Werror: the C sources are meant to be -Wall -Wextra clean.
cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -I. -Iinternal/fq/c)
tsan=(-fsanitize=thread)
asan=(-fsanitize=address,undefined -fno-omit-frame-pointer)

export TSAN_OPTIONS=halt_on_error=1
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# Any of these in the output is a failure, whatever the exit status.
reports='WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'

build() { # output, sanitizer flags..., sources...
	local bin=$1
	shift
	if ! gcc "${cflags[@]}" "$@" -lpthread -o "$bin"; then
		echo "csan: build failed; are the sanitizer runtimes installed (libtsan2 libasan8 libubsan1)?" >&2
		return 1
	fi
}

# execute runs a binary with a time limit and leaves its output in $log and
# its exit status in $rc. gcc 12's TSan cannot place its shadow memory under
# the higher address-space randomisation of some newer kernels ("unexpected
# memory mapping"); such a run is retried once with randomisation off.
execute() { # log, binary, args...
	log=$1
	shift
	rc=0
	timeout 300 "$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && grep -q 'unexpected memory mapping' "$log"; then
		echo "csan: retrying $(basename "$1") with ASLR off (TSan shadow mapping)"
		rc=0
		timeout 300 setarch "$(uname -m)" -R "$@" >"$log" 2>&1 || rc=$?
	fi
}

canary() { # name, binary, mode, expected report
	execute "$work/canary-$1.log" "$2" "$3"
	if [ "$rc" -eq 0 ] || ! grep -q "$4" "$log"; then
		cat "$log"
		echo "csan: FAIL: $1 did not report the canary's bug ($4); the sanitizer is not working" >&2
		exit 1
	fi
	echo "csan: $1 catches the canary ($4)"
}

test_run() { # test, sanitizer name, binary, args...
	local start=$SECONDS test=$1 name=$2
	shift 2
	execute "$work/$test-$name.log" "$@"
	cat "$log"
	if [ "$rc" -ne 0 ] || grep -Eq "$reports" "$log"; then
		echo "csan: FAIL: $name $test run (exit status $rc)" >&2
		exit 1
	fi
	echo "csan: $name $test clean ($((SECONDS - start))s)"
}

build "$work/canary-tsan" "${tsan[@]}" testdata/csan/canary.c
build "$work/canary-asan" "${asan[@]}" testdata/csan/canary.c
for t in stress calls bytes; do
	build "$work/$t-tsan" "${tsan[@]}" "testdata/csan/$t.c"
	build "$work/$t-asan" "${asan[@]}" "testdata/csan/$t.c"
done

canary tsan "$work/canary-tsan" race 'WARNING: ThreadSanitizer: data race'
canary asan "$work/canary-asan" heap 'ERROR: AddressSanitizer: heap-use-after-free'
canary ubsan "$work/canary-asan" ub 'runtime error: signed integer overflow'

test_run stress tsan "$work/stress-tsan" "${args[@]}"
test_run stress asan+ubsan "$work/stress-asan" "${args[@]}"
test_run calls tsan "$work/calls-tsan" "${calls_args[@]}"
test_run calls asan+ubsan "$work/calls-asan" "${calls_args[@]}"
test_run bytes tsan "$work/bytes-tsan" "${calls_args[@]}"
test_run bytes asan+ubsan "$work/bytes-asan" "${calls_args[@]}"
