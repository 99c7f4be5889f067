package bench

/*
#include "harness.h"
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// GiveUpResult is a run of calls that each gave up: how long each took
// (timeout included), and how many late results the Func dropped.
type GiveUpResult struct {
	LatencyResult
	Timeout     time.Duration
	LateResults uint64 // results that came after their caller had gone
}

// MeasureGiveUp makes n foreign_calls from a C thread, one every gap, each
// with the given timeout, into a Func whose function takes work (longer):
// every caller gives up. The samples are each call's duration; their
// overshoot past timeout is what a caller pays beyond its own deadline.
// It fails if a call did not time out or its result buffer was written.
func MeasureGiveUp(n int, timeout, work, gap time.Duration) (GiveUpResult, []float64, error) {
	res := GiveUpResult{LatencyResult: LatencyResult{Strategy: CallForeign}, Timeout: timeout}
	f, err := foreign.NewFunc(func(x uint64) uint64 { time.Sleep(work); return x + 1 }, foreign.FuncConfig{Name: "bench-giveup"})
	if err != nil {
		return res, nil, err
	}
	ticks := make([]uint64, n)
	rc := C.bh_giveup(C.uintptr_t(f.Token()), C.int(n), C.int64_t(timeout), C.int64_t(gap), (*C.uint64_t)(unsafe.Pointer(&ticks[0])))
	cerr := f.Close() // waits for the last late result
	if rc != 0 {
		return res, nil, fmt.Errorf("bench: give-up calls: %s", strerror(int(rc)))
	}
	if cerr != nil {
		return res, nil, cerr
	}
	res.LateResults = f.Stats().LateResults
	res.Accepted = uint64(n)
	summarize(&res.LatencyResult, ticks, nsPerTick(), 0)
	return res, toNs(ticks, nsPerTick(), 0), nil
}
