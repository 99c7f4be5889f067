// Package bench measures what it costs a C thread to hand an event to Go,
// for the foreign queue and for the alternatives it replaces, side by side
// in one process. It backs the benchmarks in bench_test.go and is meant to
// back a command-line tool as well.
//
// # Measurements
//
// Latency ([Prober], [MeasureLatency]): one C thread makes calls at a steady
// paced rate (1 M/s by default) and times each call in C, the way a
// real-time or network thread would experience it, while the consumer runs.
// The result is the distribution of per-call times. [StartLoad] adds garbage
// collector pressure or CPU-bound goroutines for the duration.
//
// Calls are timed with the TSC on x86 (fenced, calibrated against
// CLOCK_MONOTONIC) and with CLOCK_MONOTONIC elsewhere. The [Noop] strategy
// measures what the timing itself adds. Times come in steps of the clock's
// resolution: AMD's TSC, for one, advances 10 ns at a time.
//
// Throughput ([MeasureThroughput]): N C threads each send M messages as fast
// as they can, retrying after a pause when the queue is full, until the
// consumer has received all of them in per-producer order. The time runs
// from the first send to the consumer's receipt of the last message.
//
// # Strategies
//
// [Noop] is an empty C function called through a pointer: the floor of the
// timing itself. [Export] calls an //export'ed Go function. [ExportChan]
// calls one that sends the message on a buffered channel drained by a
// goroutine. [Foreign] posts with foreign_post into a
// [github.com/foreigncall/foreign.Queue] whose handler checks the sequence
// numbers. [CRing] is the same ring with a C consumer thread: the C-only
// floor for throughput.
//
// # Threads
//
// Every C thread is a pthread started by harness.c; the Go side blocks in a
// cgo call while it waits for one. The consumers check every message the
// same way for every strategy (count, per-producer order), and a measurement
// that loses, repeats or reorders a message returns an error rather than a
// result.
package bench

import "fmt"

// Strategy is a way for a C thread to hand an event to Go.
type Strategy string

// The strategies. Their values are the names used in benchmark names.
const (
	Noop       Strategy = "noop"        // an empty C function: the timing floor
	Export     Strategy = "export"      // call an //export'ed Go function
	ExportChan Strategy = "export+chan" // //export'ed function sending on a channel
	Foreign    Strategy = "foreign"     // foreign_post into a foreign.Queue
	CRing      Strategy = "c-ring"      // the same ring with a C consumer thread
)

// LatencyStrategies are the strategies a [Prober] times, floor first.
var LatencyStrategies = []Strategy{Noop, Export, ExportChan, Foreign}

// ThroughputStrategies are the strategies [MeasureThroughput] runs, floor
// first.
var ThroughputStrategies = []Strategy{CRing, Foreign, ExportChan}

// ParseStrategy returns the strategy named s.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(s); st {
	case Noop, Export, ExportChan, Foreign, CRing:
		return st, nil
	}
	return "", fmt.Errorf("bench: unknown strategy %q", s)
}

// kind is the strategy's name in harness.h.
func (s Strategy) kind() int {
	switch s {
	case Noop:
		return kindNoop
	case Export:
		return kindExport
	case ExportChan:
		return kindExportChan
	case Foreign:
		return kindForeign
	case CRing:
		return kindCRing
	}
	return 0
}
