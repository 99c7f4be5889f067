// Command nats binds the NATS C client (libnats) with foreign: an
// asynchronous subscription's callback runs on the delivery thread libnats
// starts for it; it posts each message whole (a header, the subject, the
// payload) to a foreign.ByteQueue, so that thread never enters the Go
// runtime.
//
// It publishes numbered, checksummed messages through a server, checks that
// every one arrives once, in order and intact, and prints the throughput
// and the time the delivery thread spent per message, next to the same
// binding written with an //export callback.
//
//	go run ./nats                            # starts nats-server on a free port of 127.0.0.1
//	go run ./nats -server nats://host:port   # uses a running server
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
	log.SetPrefix("nats: ")
	server := flag.String("server", "", "NATS server `URL` (default: start nats-server on 127.0.0.1)")
	n := flag.Int("n", 50000, "messages per run")
	maxPayload := flag.Int("max", 64<<10, "longest payload in `bytes` (most are short: see kit.VariedLen)")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	if err := run(*server, *n, *maxPayload, *gc); err != nil {
		log.Fatal(err)
	}
}

func run(url string, n, maxPayload int, gc bool) error {
	if url == "" {
		srv, err := kit.StartNATS()
		if err != nil {
			return err
		}
		defer srv.Stop()
		url = "nats://" + srv.Addr
		fmt.Printf("started nats-server on %s\n", srv.Addr)
	}
	machine := kit.Machine() // before the runs load it
	var rows []kit.Row
	for _, mode := range []Mode{Post, Export} {
		out, err := experiment{
			url: url, mode: mode, n: n, maxPayload: maxPayload, gc: gc, timeout: time.Minute,
		}.run()
		if err != nil {
			return fmt.Errorf("%v: %w", mode, err)
		}
		r := out.report
		fmt.Printf("%-6s %d messages of %d..%d bytes (%.1f MB): %d arrived in order and intact, %d lost; delivery thread %v\n",
			mode, n, kit.HeaderLen, maxPayload, float64(out.bytes)/1e6, r.Received-r.Corrupt, out.stats.Lost, out.row.Callback)
		if mode == Post {
			q := out.stats.Queue
			fmt.Printf("       queue: %d posted, %d delivered, high water %d of %d bytes, %d wake-ups, %d posts waited for room\n",
				q.Posted, q.Delivered, q.HighWater, q.Capacity, q.Wakeups, out.stats.Waited)
		}
		rows = append(rows, out.row)
	}
	fmt.Printf("\n%s\n%s", machine, kit.Table(rows))
	return nil
}
