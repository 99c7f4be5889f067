#!/usr/bin/env bash
# arm64.sh: cross-builds the library's tests for linux/arm64 (gcc's aarch64
# cross compiler) and runs them under qemu-user: the whole suite in its
# short form (stress, calls, signals, waits, the lifecycle and composition
# tests), so that the protocol's memory ordering is exercised on a weakly
# ordered machine's instruction set, if not its hardware. Prints how long
# each part took.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu

for pkg in . ./internal/fq; do
	name=$(basename "$(realpath "$pkg")")
	start=$SECONDS
	go test -c -o "$work/$name.test" "$pkg"
	echo "arm64: built $pkg in $((SECONDS - start))s"
	start=$SECONDS
	# Run from the package directory, as go test does (the tests read
	# testdata/ and c/ by relative paths).
	(cd "$pkg" && timeout 900 qemu-aarch64 -L "$sysroot" "$work/$name.test" -test.short -test.timeout 800s)
	echo "arm64: $pkg passed under qemu-aarch64 in $((SECONDS - start))s"
done
