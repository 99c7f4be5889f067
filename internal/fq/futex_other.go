//go:build !linux

// futex_other.go: without a futex, no consumer parks on one (futexPark is
// false), so there is never one to wake.

package fq

import "sync/atomic"

func futexWake(*atomic.Uint32) {}
