// Command uvpool binds libuv's thread pool with foreign: work callbacks
// queued with uv_queue_work run on libuv's pool threads; each asks Go for a
// decision with foreign_call (a foreign.Func answers it) and hands its
// result to a foreign.Queue with foreign_post_wait, so the pool threads
// never enter the Go runtime.
//
// It runs a batch of work items, checks that every result arrives once,
// made from the decision Go gave, in order per pool thread, and prints the
// throughput and the time the pool threads spent per call and per result,
// next to the same binding written with //export callbacks.
//
//	go run ./uvpool
//	UV_THREADPOOL_SIZE=8 go run ./uvpool -n 100000
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("uvpool: ")
	n := flag.Int("n", 20000, "work items per run")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	machine := kit.Machine() // before the runs load it
	var rows []kit.Row
	for _, mode := range []Mode{Foreign, Export} {
		out, err := experiment{mode: mode, n: *n, gc: *gc}.run()
		if err != nil {
			log.Fatalf("%v: %v", mode, err)
		}
		fmt.Printf("%-7s %d work items on %d pool threads: %d results checked, %d lost; decision %v; result %v\n",
			mode, *n, out.threads, out.report.Received, out.stats.Lost, out.call.Callback, out.post.Callback)
		rows = append(rows, out.call, out.post)
	}
	fmt.Printf("\n%s\n%s", machine, kit.Table(rows))
}
