// Command gstappsink binds GStreamer's appsink with foreign: the
// new-sample callback runs on GStreamer's streaming thread; it maps each
// frame's buffer and posts a header and the frame's bytes to a
// foreign.ByteQueue with foreign_postv (waiting, bounded, when it is full),
// then unmaps and unrefs the buffer, so that thread never enters the Go
// runtime and no GstBuffer crosses into Go.
//
// It runs a real pipeline (videotestsrc ! appsink), checks every byte of
// every frame against a CRC-32 computed in C, and its order and time stamp,
// and prints the throughput and the time the streaming thread spent per
// frame, next to the same binding written with an //export callback.
//
//	go run ./gstappsink
//	go run ./gstappsink -n 600 -size 1280x720 -gc
package main

import (
	"flag"
	"fmt"
	"log"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gstappsink: ")
	n := flag.Int("n", 300, "frames per run")
	size := flag.String("size", "640x480", "frame `WxH` (RGB, 3 bytes a pixel)")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	var w, h int
	if _, err := fmt.Sscanf(*size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		log.Fatalf("-size %q: want WxH", *size)
	}
	if err := run(*n, w, h, *gc); err != nil {
		log.Fatal(err)
	}
}

func run(n, w, h int, gc bool) error {
	machine := kit.Machine() // before the runs load it
	var rows []kit.Row
	for _, mode := range []Mode{Post, Export} {
		out, err := experiment{mode: mode, frames: n, width: w, height: h, gc: gc}.run()
		if err != nil {
			return fmt.Errorf("%v: %w", mode, err)
		}
		r := out.report
		fmt.Printf("%-6s %d frames of %dx%d RGB: %d arrived in order and intact, %d lost, %.0f MB/s; streaming thread %v\n",
			mode, n, w, h, r.Received-r.Corrupt, out.stats.Lost, float64(out.bytes)/1e6/out.row.Elapsed.Seconds(), out.row.Callback)
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
