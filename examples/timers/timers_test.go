package main

import (
	"testing"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// TestSideBySide runs real POSIX timers, SIGEV_THREAD bound with
// foreign_post and with an //export call, and SIGEV_SIGNAL bound with
// foreign_post from the handler, with and without garbage-collector
// pressure; checks that every expiration arrives exactly once; and logs the
// figures (reported, not asserted: they depend on the machine).
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	n := 4000
	if kit.Race {
		n = 2000
	}
	const interval = 250 * time.Microsecond
	var rows []kit.Row
	for _, gc := range []bool{false, true} {
		for _, kind := range []Kind{ThreadPost, ThreadExport, SignalPost} {
			out, err := experiment{kind: kind, interval: interval, count: n, gc: gc}.run()
			switch {
			case err != nil && kind == ThreadExport:
				// The //export twin is the baseline whose stalls the
				// comparison shows: a thread per expiry entering Go under
				// GC can take longer than the run's limit on a loaded
				// machine. That is a figure, not a fault of the binding.
				t.Logf("%v, gc %v (baseline): %v", kind, gc, err)
			case err != nil:
				t.Errorf("%v, gc %v: %v", kind, gc, err)
			}
			if out.stats.Lost != 0 {
				t.Logf("%v, gc %v: %d posts refused (%v), counted and accounted for", kind, gc, out.stats.Lost, out.stats.LastErr)
			}
			t.Logf("%v, gc %v: %d threads, %d overruns, %d arrived in a different order than they started",
				kind, gc, out.threads, out.overruns, out.report.Reordered)
			rows = append(rows, out.row)
		}
	}
	t.Logf("POSIX timers, %d expirations every %v per run (race detector: %v; %s):\n%s", n, interval, kit.Race, machine, kit.Table(rows))
}

// TestSignalHandlerRestored checks that Stop puts back the handler the
// signal had before: Go's, which ignores a stray real-time signal.
func TestSignalHandlerRestored(t *testing.T) {
	before := signalHandler(DefaultSignal)
	tm, err := Start(Config{Kind: SignalPost, Interval: time.Millisecond, Count: 5}, func(Expiry) {})
	if err != nil {
		t.Fatal(err)
	}
	if during := signalHandler(DefaultSignal); during == before {
		t.Errorf("handler not replaced while the timer runs")
	}
	if err := tm.Wait(10 * time.Second); err != nil {
		t.Error(err)
	}
	tm.Stop()
	if after := signalHandler(DefaultSignal); after != before {
		t.Errorf("handler %#x after Stop, want %#x", after, before)
	}
	raiseSignal(DefaultSignal) // goes to Go's handler, which ignores it
}
