// Command sdlaudio binds an SDL2 audio callback with foreign: the callback
// runs on SDL's audio thread, once a period; it asks Go for each buffer
// with foreign_callv, which writes Go's answer straight into SDL's stream
// and gives up a little before the period ends, and plays silence (and
// counts it) when Go is late. So the audio thread never enters the Go
// runtime and never waits longer than it can afford.
//
// It plays a tone (a sine per channel) for a while, checks every buffer the
// audio thread played against the tone recomputed from its request, and
// prints the callback counts and the audio thread's time in the hand-off,
// next to the same binding written with an //export callback.
//
//	go run ./sdlaudio                        # SDL's dummy driver: on time, into nothing
//	go run ./sdlaudio -driver pulseaudio     # to hear it
//	go run ./sdlaudio -slow 3                # every third buffer late on purpose
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
	log.SetPrefix("sdlaudio: ")
	driver := flag.String("driver", "dummy", "SDL audio `driver` (dummy, pulseaudio, alsa, ...)")
	duration := flag.Duration("t", 2*time.Second, "how long each run plays")
	slow := flag.Uint64("slow", 0, "make every `n`-th buffer late by a period (0: none)")
	gc := flag.Bool("gc", false, "run under garbage-collector pressure")
	flag.Parse()
	if err := run(*driver, *duration, *slow, *gc); err != nil {
		log.Fatal(err)
	}
}

func run(driver string, duration time.Duration, slow uint64, gc bool) error {
	machine := kit.Machine() // before the runs load it
	var names []string
	var outs []outcome
	for _, mode := range []Mode{Call, Export} {
		e := experiment{mode: mode, driver: driver, duration: duration, gc: gc, slowEvery: slow}
		if slow > 0 {
			e.slowBy = Config{Samples: 2048, Freq: 48000}.Period()
		}
		out, err := e.run()
		if err != nil {
			return fmt.Errorf("%v: %w", mode, err)
		}
		st := out.stats
		fmt.Printf("%-6s %d callbacks of %v (%d bytes): %d checked, %d played Go's tone, %d silence (%d late); audio thread %v\n",
			mode, st.Callbacks, out.cfg.Period().Round(10*time.Microsecond), out.cfg.Samples*out.cfg.FrameBytes(),
			out.checked, st.Callbacks-st.Silent, st.Silent, st.Late, kit.Summarize(st.Timings))
		names = append(names, mode.String())
		outs = append(outs, out)
	}
	fmt.Printf("\n%s\n%s", machine, table(names, outs))
	return nil
}
