// Command foreignbench runs this library next to the alternatives a Go
// programmer would otherwise reach for, in one process, and prints a table
// of how they compare: throughput from C producer threads, the latency a C
// thread sees per post (quiet, under GC pressure, under busy goroutines), a
// fresh thread per event, a call's round trip, the wake-up latency of a
// parked consumer, and byte strings of any length (messages/s, MB/s and the
// post's latency, against an //export copy + channel, a pipe, a socket and
// memcpy).
//
// Usage:
//
//	go run ./cmd/foreignbench [flags]
//
// With no flags it runs the default workload (about two and a half minutes
// on two cores) and prints a table. -json and -format bench print the same
// results for programs and for benchstat; -plot writes a chart.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foreigncall/foreign/bench/internal/bench"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("foreignbench: ")
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}

// options are the parsed flags.
type options struct {
	scenarios  []string
	soak       bool
	idle       bool
	strategies map[bench.Strategy]bool // nil: all
	producers  []int
	sizes      []int // byte-string sizes
	loads      []bench.Load
	reps       int
	scale      float64
	jsonOut    bool
	format     string
	plot       string
	progress   string
}

// Scenarios, in the order they run and print.
const (
	scThroughput = "throughput"
	scLatency    = "latency"
	scFresh      = "fresh"
	scCall       = "call"
	scWake       = "wake"
	scBytes      = "bytes"         // byte strings: throughput and MB/s per size, and post latency
	scBytesLat   = "bytes-latency" // the cells of the byte scenario's post latency (not a flag value)
	scIdle       = "idle"          // after the others: CPU time and threads of parked handles
	scSoak       = "soak"          // not in the default run: 100 M messages at scale 1
)

var allScenarios = []string{scThroughput, scLatency, scFresh, scCall, scWake, scBytes}

// defaultScenarios are the default run: every scenario but soak.
var defaultScenarios = append(slices.Clone(allScenarios), scIdle)

// knownScenarios are those -scenarios takes: the default ones and soak.
var knownScenarios = append(slices.Clone(defaultScenarios), scSoak)

func usage(fs *flag.FlagSet, w io.Writer) func() {
	return func() {
		fmt.Fprintf(w, `usage: foreignbench [flags]

Runs this library (foreign) side by side with the alternatives: //export
calls, //export + channel, an eventfd or a pipe write per event, a
uv_async_send-style coalescing wake-up, a mutex + condvar queue, and a C-only
ring as the machine's floor; and, for byte strings (the bytes scenario), its
byte queue against an //export callback that copies (C.GoBytes or a pooled
buffer) and sends on a channel, a pipe, a SOCK_SEQPACKET socket, and memcpy.
The default workload takes about two and a half minutes on two cores.

Scenarios: %s.

Flags:
`, strings.Join(knownScenarios, ", "))
		fs.PrintDefaults()
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("foreignbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usage(fs, stderr)
	var (
		o          options
		scenarios  = fs.String("scenarios", strings.Join(defaultScenarios, ","), "comma-separated scenarios to run")
		strategies = fs.String("strategies", "", "comma-separated strategies to run (default all; baselines are always kept)")
		producers  = fs.String("producers", "1,2,4", "comma-separated C producer thread counts for throughput")
		sizes      = fs.String("sizes", "16,256,4096,65536", "comma-separated message sizes in bytes for the bytes scenario (1 and 2 producers each)")
		loads      = fs.String("loads", "none,gc,busy", "comma-separated loads for latency")
		scale      = fs.String("scale", "1", "workload size: a factor of the default, or tiny (0.01)")
		duration   = fs.Duration("duration", 0, fmt.Sprintf("approximate total run time (overrides -scale; the default scale takes about %ds on 2 cores)", defaultSeconds))
	)
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every cell, to measure the spread")
	fs.BoolVar(&o.jsonOut, "json", false, "print the results as JSON")
	fs.StringVar(&o.format, "format", "table", "output format: table or bench (Go benchmark format, for benchstat)")
	fs.StringVar(&o.plot, "plot", "", "write charts to `FILE` (.svg or .png)")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on, off")
	quiet := fs.Bool("quiet", false, "no progress bar (same as -progress=off)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for s := range strings.SplitSeq(*scenarios, ",") {
		s = strings.TrimSpace(s)
		if !contains(knownScenarios, s) {
			return o, fmt.Errorf("-scenarios: unknown scenario %q (have %s)", s, strings.Join(knownScenarios, ", "))
		}
		if s == scSoak {
			o.soak = true
			continue
		}
		if s == scIdle {
			o.idle = true
			continue
		}
		o.scenarios = append(o.scenarios, s)
	}
	if *strategies != "" {
		o.strategies = map[bench.Strategy]bool{}
		for s := range strings.SplitSeq(*strategies, ",") {
			st, err := bench.ParseStrategy(strings.TrimSpace(s))
			if err != nil {
				return o, fmt.Errorf("-strategies: %w", err)
			}
			o.strategies[st] = true
		}
	}
	for p := range strings.SplitSeq(*producers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 64 {
			return o, fmt.Errorf("-producers: bad count %q", p)
		}
		o.producers = append(o.producers, n)
	}
	for z := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(z))
		if err != nil || n < bench.BytesHeader || n > 1<<20 {
			return o, fmt.Errorf("-sizes: bad size %q (want %d to %d bytes)", z, bench.BytesHeader, 1<<20)
		}
		o.sizes = append(o.sizes, n)
	}
	for l := range strings.SplitSeq(*loads, ",") {
		ld, err := bench.ParseLoad(strings.TrimSpace(l))
		if err != nil {
			return o, fmt.Errorf("-loads: %w", err)
		}
		o.loads = append(o.loads, ld)
	}
	switch *scale {
	case "tiny":
		o.scale = 0.01
	default:
		f, err := strconv.ParseFloat(*scale, 64)
		if err != nil || !(f > 0) || f > 100 {
			return o, fmt.Errorf("-scale: want a factor in (0, 100] or tiny, got %q", *scale)
		}
		o.scale = f
	}
	if *duration < 0 {
		return o, fmt.Errorf("-duration: negative")
	}
	if *duration > 0 {
		o.scale = min(max(duration.Seconds()/defaultSeconds, 0.001), 100)
	}
	if o.reps < 1 || o.reps > 100 {
		return o, fmt.Errorf("-reps: want 1 to 100, got %d", o.reps)
	}
	if o.format != "table" && o.format != "bench" {
		return o, fmt.Errorf("-format: want table or bench, got %q", o.format)
	}
	if o.jsonOut && o.format != "table" {
		return o, errors.New("-json and -format bench are exclusive")
	}
	if o.plot != "" {
		if ext := strings.ToLower(filepath.Ext(o.plot)); ext != ".svg" && ext != ".png" {
			return o, fmt.Errorf("-plot: want a .svg or .png file, got %q", o.plot)
		}
	}
	if *quiet {
		o.progress = "off"
	}
	if o.progress != "auto" && o.progress != "on" && o.progress != "off" {
		return o, fmt.Errorf("-progress: want auto, on or off, got %q", o.progress)
	}
	return o, nil
}

// defaultSeconds is about how long the default scale takes on two cores.
const defaultSeconds = 160

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// run is the command: parse args, measure, print to stdout. Progress goes
// to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	pb := newProgress(stderr, o.progress)
	start := time.Now()
	rep, err := measure(o, pb)
	pb.done()
	if err != nil {
		return err
	}
	if o.idle {
		if rep.Idle, err = idle(o); err != nil {
			return err
		}
		rep.Targets = append(rep.Targets, idleTargets(rep.Idle)...)
	}
	if o.soak {
		if rep.Soak, err = soak(o); err != nil {
			return err
		}
	}
	rep.Wall = time.Since(start).Round(time.Second / 10).String()
	switch {
	case o.jsonOut:
		err = writeJSON(stdout, rep)
	case o.format == "bench":
		err = writeBench(stdout, rep)
	default:
		err = writeTable(stdout, rep)
	}
	if err != nil {
		return err
	}
	if o.plot != "" {
		if err := writePlot(o.plot, rep); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}
