//go:build race

// race.go: what the race detector is told of the ring's synchronisation.

package fq

import (
	"runtime"
	"unsafe"
)

// The race detector does not see the synchronisation that the ring provides,
// because the ring's atomics act on C memory, which it does not track. These
// annotations tell it what the protocol guarantees: a Post happens before the
// delivery of its message, so Go data written before Post may be read by the
// handler without a race report.
func raceRelease(p unsafe.Pointer) { runtime.RaceReleaseMerge(p) }
func raceAcquire(p unsafe.Pointer) { runtime.RaceAcquire(p) }
