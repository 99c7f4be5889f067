// Command mqtt binds libmosquitto with foreign: the library's on_message
// callback runs on the network thread mosquitto_loop_start creates; it
// posts each message whole (a header, the topic, the payload) to a
// foreign.ByteQueue, so that thread never enters the Go runtime.
//
// It publishes numbered, checksummed messages through a broker, checks that
// every one arrives once, in order and intact, and prints the throughput
// and the time the network thread spent per message, next to the same
// binding written with an //export callback.
//
//	go run ./mqtt                    # starts mosquitto on a free port of 127.0.0.1
//	go run ./mqtt -broker host:port  # uses a running broker
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
	log.SetPrefix("mqtt: ")
	broker := flag.String("broker", "", "MQTT broker `host:port` (default: start mosquitto on 127.0.0.1)")
	n := flag.Int("n", 20000, "messages per run")
	maxPayload := flag.Int("max", 64<<10, "longest payload in `bytes` (most are short: see kit.VariedLen)")
	qos := flag.Int("qos", 1, "MQTT QoS of publication and subscription")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	if err := run(*broker, *n, *maxPayload, *qos, *gc); err != nil {
		log.Fatal(err)
	}
}

func run(broker string, n, maxPayload, qos int, gc bool) error {
	if broker == "" {
		srv, err := kit.StartMosquitto()
		if err != nil {
			return err
		}
		defer srv.Stop()
		broker = srv.Addr
		fmt.Printf("started mosquitto on %s\n", broker)
	}
	machine := kit.Machine() // before the runs load it
	var rows []kit.Row
	for _, mode := range []Mode{Post, Export} {
		out, err := experiment{
			addr: broker, mode: mode, n: n, maxPayload: maxPayload,
			qos: qos, gc: gc, timeout: time.Minute,
		}.run()
		if err != nil {
			return fmt.Errorf("%v: %w", mode, err)
		}
		r := out.report
		fmt.Printf("%-6s %d messages of %d..%d bytes (%.1f MB): %d arrived in order and intact, %d lost; network thread %v\n",
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
