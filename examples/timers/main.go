// Command timers binds POSIX interval timers (timer_create) with foreign,
// both ways glibc can notify: SIGEV_THREAD runs a function on a new thread
// for every expiration, and SIGEV_SIGNAL sends a signal, whose handler runs
// in signal context. Either posts the expiration to a foreign.Queue; neither
// enters the Go runtime.
//
// It runs each kind for a number of expirations, checks that each arrives
// exactly once, and prints the time the notification spent handing over,
// next to SIGEV_THREAD written with an //export callback. (A signal handler
// has no //export counterpart: it must not call into Go.)
//
//	go run ./timers
//	go run ./timers -interval 1ms -n 2000 -gc
package main

import (
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("timers: ")
	n := flag.Int("n", 4000, "expirations per run")
	interval := flag.Duration("interval", 250*time.Microsecond, "timer interval")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	machine := kit.Machine() // before the runs load it
	var rows []kit.Row
	for _, kind := range []Kind{ThreadPost, ThreadExport, SignalPost} {
		out, err := experiment{kind: kind, interval: *interval, count: *n, gc: *gc}.run()
		if err != nil {
			log.Fatalf("%v: %v", kind, err)
		}
		fmt.Printf("%-13s %d expirations every %v: %d arrived once each (%d in a different order than they started), %d lost; "+
			"%d threads, %d overruns; hand-off %v\n",
			kind, *n, *interval, out.report.Received, out.report.Reordered, out.stats.Lost,
			out.threads, out.overruns, out.row.Callback)
		rows = append(rows, out.row)
	}
	fmt.Printf("\n%s\n%s", machine, kit.Table(rows))
}
