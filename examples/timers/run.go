package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// experiment runs a timer of the given kind for count expirations and
// checks that each arrives exactly once.
//
// Order is reported, not required: every notification is its own producer
// (a new thread, or a signal handler on whichever thread the kernel
// picked), so two of them that overlap may post in either order, and
// foreign promises order only per producer.
type experiment struct {
	kind     Kind
	interval time.Duration
	count    int
	gc       bool
}

type outcome struct {
	row      kit.Row
	stats    Stats
	report   kit.Report
	threads  int    // distinct threads the notifications ran on
	overruns uint64 // expirations merged into others
}

func (e experiment) run() (outcome, error) {
	var out outcome
	check := kit.NewChecker(e.count)
	var mu sync.Mutex // ThreadExport calls the handler from several threads
	tids := map[int32]bool{}
	var overruns uint64
	handler := func(x Expiry) {
		check.Seq(x.Seq)
		mu.Lock()
		tids[x.Tid] = true
		overruns += uint64(max(x.Overrun, 0))
		mu.Unlock()
	}
	var stopGC func() uint64
	if e.gc {
		stopGC = kit.Garbage(2)
	}
	start := time.Now()
	t, err := Start(Config{
		Kind: e.kind, Interval: e.interval, Count: e.count,
		Capacity: 4096, Wait: 5 * time.Second, Timings: true,
	}, handler)
	if err != nil {
		if stopGC != nil {
			stopGC()
		}
		return out, err
	}
	waitErr := t.Wait(time.Duration(e.count)*e.interval*4 + 20*time.Second)
	t.Stop()
	elapsed := time.Since(start)
	if stopGC != nil {
		out.row.GCCycles = stopGC()
	}
	out.stats = t.Stats()
	out.report = check.Report()
	mu.Lock()
	out.threads, out.overruns = len(tids), overruns
	mu.Unlock()
	out.row.Binding = e.kind.String()
	out.row.GC = e.gc
	out.row.Messages = e.count
	out.row.Waited, out.row.Lost = out.stats.Waited, out.stats.Lost
	out.row.Elapsed = elapsed
	out.row.Callback = kit.Summarize(t.Timings())
	out.row.Slept, out.row.Preempted = out.stats.Slept, out.stats.Preempted
	if waitErr != nil {
		return out, waitErr
	}
	if err := out.report.Check(out.stats.Lost, false); err != nil {
		return out, fmt.Errorf("%w (stats %+v)", err, out.stats)
	}
	return out, nil
}
