package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/foreigncall/foreign"
	"github.com/foreigncall/foreign/bench/internal/bench"
)

// Report is everything one run measured; it is also the JSON output.
type Report struct {
	Machine  Machine  `json:"machine"`
	Scale    float64  `json:"scale"`
	Reps     int      `json:"reps"`
	Wall     string   `json:"wall"`
	Cells    []*Cell  `json:"cells"`
	Targets  []Target `json:"targets"`
	Idle     *Idle    `json:"idle,omitempty"`
	Soak     *Soak    `json:"soak,omitempty"`
	Warnings []string `json:"warnings"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

// Cell is one strategy in one case of one scenario, over every repetition.
type Cell struct {
	Scenario string `json:"scenario"`
	Case     string `json:"case"` // "producers=2", "load=gc", "parked", ...
	Strategy string `json:"strategy"`

	// Throughput: events per second per repetition and their median.
	EventsPerSec []float64 `json:"events_per_sec,omitempty"`
	Median       float64   `json:"median_events_per_sec,omitempty"`

	// Latency-like scenarios: percentiles of every repetition's samples
	// pooled, and each repetition's own.
	Latency *Pcts  `json:"latency_ns,omitempty"`
	RepPcts []Pcts `json:"rep_latency_ns,omitempty"`
	// Library is the same latency from the handle's own histogram
	// (foreign.Latency.Queued), every repetition merged, where the strategy
	// records one (the wake-up scenario's foreign queue).
	Library *Pcts `json:"library_latency_ns,omitempty"`
	lib     *foreign.Histogram

	// Byte strings: every message's length, and the MB (10^6 bytes) per
	// second of each repetition and their median (EventsPerSec and Median
	// hold the messages per second).
	Size     int       `json:"message_bytes,omitempty"`
	MBPerSec []float64 `json:"mb_per_sec,omitempty"`
	MedianMB float64   `json:"median_mb_per_sec,omitempty"`

	Lost     uint64  `json:"lost,omitempty"`     // async: events the consumer never saw
	Allocs   float64 `json:"allocs_per_msg"`     // throughput: Go heap allocations per message, all of the process's
	Rejected uint64  `json:"rejected,omitempty"` // posts refused as full
	Spread   float64 `json:"spread"`             // max/min of the repetitions' headline figure

	samples       []float64 // pooled, sorted, for the plot
	mallocs, msgs uint64
	accepted      uint64 // latency: calls accepted, warm-up included (Lost's base)
}

// libPcts reads a library histogram's percentiles.
func libPcts(h *foreign.Histogram) *Pcts {
	q := func(f float64) float64 { return float64(h.Quantile(f).Nanoseconds()) }
	return &Pcts{Samples: int(h.Count()), P50: q(0.5), P90: q(0.9), P99: q(0.99), P999: q(0.999), P9999: q(0.9999),
		Max: float64(h.Max().Nanoseconds()), Mean: float64(h.Mean().Nanoseconds())}
}

// Pcts are latency percentiles in nanoseconds.
type Pcts struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p99.9"`
	P9999   float64 `json:"p99.99"`
	Max     float64 `json:"max"`
	Mean    float64 `json:"mean"`
}

// Target is one performance target of the design brief and how this run
// did against it.
type Target struct {
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
}

// The workload at scale 1, sized so that the whole run takes about two
// and a half minutes on two cores (see defaultSeconds).
const (
	tputMessages   = 200_000 // per producer per repetition
	latencyEvents  = 200_000 // per strategy, load and repetition, at 1 M/s
	freshEvents    = 3_000
	callParked     = 2_000 // at one call every 200 µs
	callBusy       = 40_000
	wakeEvents     = 2_000 // one post every 200 µs
	parkGap        = 200 * time.Microsecond
	giveUpCalls    = 1_000 // at one call every 1.5 ms, each giving up
	giveUpTimeout  = 200 * time.Microsecond
	giveUpCase     = "gives up after 200 µs"
	noisyThreshold = 1.5

	bytesLatEvents = 200_000 // per strategy and repetition, at 1 M/s
	bytesLatSize   = 256
	bytesLatRate   = 1_000_000
	bytesLatCase   = "256 B at 1 M posts/s"
)

// bytesMessages is how many messages each producer sends per repetition
// of a byte-string cell: 300,000 up to 256 B, then 192 MiB worth (48 Ki
// of 4 KiB, 3 Ki of 64 KiB), so that the slowest strategies take a few
// hundred milliseconds and the fastest at least a few.
func bytesMessages(size int) int { return max(min(300_000, (192<<20)/size), 100) }

// bytesProducers are the producer counts of the byte-string scenario.
var bytesProducers = []int{1, 2}

// sizeName is a message size as the tables print it.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func bytesCase(size, producers int) string {
	return fmt.Sprintf("size=%s producers=%d", sizeName(size), producers)
}

func sized(n int, scale float64) int { return max(int(float64(n)*scale), 20) }

// plan is the list of measurements, so the progress bar knows the total.
type step struct {
	label string
	run   func(rep int) error
}

func (o options) want(s bench.Strategy) bool { return o.strategies == nil || o.strategies[s] }

// keep filters ss by -strategies, always keeping the baselines the ratios
// need.
func (o options) keep(ss []bench.Strategy, baselines ...bench.Strategy) []bench.Strategy {
	var out []bench.Strategy
	for _, s := range ss {
		if o.want(s) || slices.Contains(baselines, s) {
			out = append(out, s)
		}
	}
	return out
}

func measure(o options, pb *progress) (*Report, error) {
	rep := &Report{Machine: machine(), Scale: o.scale, Reps: o.reps}
	cells := map[string]*Cell{}
	cell := func(sc, cs string, s bench.Strategy) *Cell {
		k := sc + "|" + cs + "|" + string(s)
		c := cells[k]
		if c == nil {
			c = &Cell{Scenario: sc, Case: cs, Strategy: string(s)}
			cells[k] = c
			rep.Cells = append(rep.Cells, c)
		}
		return c
	}
	var steps []step
	addLatency := func(c *Cell, r bench.LatencyResult, ns []float64) {
		c.RepPcts = append(c.RepPcts, pcts(r))
		c.samples = append(c.samples, ns...)
		c.Lost += r.Lost
		c.Rejected += r.Rejected
		c.accepted += r.Accepted
		if r.Library != nil {
			if c.lib == nil {
				c.lib = new(foreign.Histogram)
			}
			c.lib.Merge(r.Library)
			c.Library = libPcts(c.lib)
		}
	}
	for _, sc := range o.scenarios {
		switch sc {
		case scThroughput:
			for _, n := range o.producers {
				for _, s := range o.keep(bench.AllThroughputStrategies, bench.CRing, bench.ExportChan) {
					c := cell(sc, fmt.Sprintf("producers=%d", n), s)
					steps = append(steps, step{fmt.Sprintf("throughput %s×%d", s, n), func(int) error {
						r, err := bench.MeasureThroughput(bench.ThroughputConfig{
							Strategy: s, Producers: n, Messages: sized(tputMessages, o.scale),
						})
						if err != nil {
							return err
						}
						c.EventsPerSec = append(c.EventsPerSec, r.EventsPerSec())
						c.Lost += r.Lost
						c.mallocs += r.Mallocs
						c.msgs += r.Messages
						return nil
					}})
				}
			}
		case scLatency:
			for _, l := range o.loads {
				for _, s := range o.keep(bench.AllLatencyStrategies, bench.Noop, bench.Export) {
					c := cell(sc, "load="+string(l), s)
					steps = append(steps, step{fmt.Sprintf("latency %s load=%s", s, l), func(int) error {
						p, err := bench.NewProber(bench.LatencyConfig{Strategy: s})
						if err != nil {
							return err
						}
						defer p.Close()
						stop, err := bench.StartLoad(l, 0)
						if err != nil {
							return err
						}
						err = p.Run(sized(latencyEvents, o.scale))
						stop()
						if err != nil {
							return err
						}
						addLatency(c, p.Result(), p.Samples())
						return nil
					}})
				}
			}
		case scFresh:
			for _, s := range o.keep(bench.FreshStrategies, bench.Noop) {
				c := cell(sc, "thread per event", s)
				steps = append(steps, step{fmt.Sprintf("fresh thread %s", s), func(int) error {
					r, ns, err := bench.MeasureFresh(s, sized(freshEvents, o.scale))
					if err != nil {
						return err
					}
					addLatency(c, r, ns)
					return nil
				}})
			}
		case scCall:
			// The C-only floor of a parked call: a round trip between two C
			// threads on futexes, under each condition.
			for _, cond := range callConditions {
				pp := cell(sc, "parked"+cond.suffix, bench.FutexPing)
				n := sized(callParked*cond.share/100, o.scale)
				steps = append(steps, step{"call futex-pingpong floor" + cond.suffix, func(int) error {
					return cond.run(func() error {
						r, ns, err := bench.MeasureFloor(bench.FutexPing, n, cond.every())
						if err == nil {
							addLatency(pp, r, ns)
						}
						return err
					})
				}})
			}
			// A caller that gives up: every call times out after 200 µs
			// into a function that takes 1 ms.
			gu := cell(sc, giveUpCase, bench.CallForeign)
			steps = append(steps, step{"call gives up", func(int) error {
				r, ns, err := bench.MeasureGiveUp(sized(giveUpCalls, o.scale), giveUpTimeout, time.Millisecond, 1500*time.Microsecond)
				if err == nil {
					addLatency(gu, r.LatencyResult, ns)
				}
				return err
			}})
			modes := []string{"busy"}
			conds := map[string]condition{}
			for _, cond := range callConditions {
				modes = append(modes, "parked"+cond.suffix)
				conds["parked"+cond.suffix] = cond
			}
			for _, mode := range modes {
				for _, s := range o.keep(bench.CallStrategies, bench.Export) {
					c := cell(sc, mode, s)
					cond, parked := conds[mode]
					steps = append(steps, step{fmt.Sprintf("call %s %s", s, mode), func(int) error {
						cfg := bench.LatencyConfig{Strategy: s, Warmup: 10, Burst: 10_000, OnGoThread: cond.goThread}
						n := sized(callParked*cond.share/100, o.scale)
						if parked {
							cfg.Rate = int(time.Second / cond.every())
						} else {
							// A period of 1 ns: back to back.
							cfg.Rate, cfg.Warmup = 1_000_000_000, 1000
							n = sized(callBusy, o.scale)
							cond = parkedConditions[0]
						}
						return cond.run(func() error {
							p, err := bench.NewProber(cfg)
							if err != nil {
								return err
							}
							defer p.Close()
							if err := p.Run(n); err != nil {
								return err
							}
							addLatency(c, p.Result(), p.Samples())
							return nil
						})
					}})
				}
			}
		case scBytes:
			for _, size := range o.sizes {
				for _, n := range bytesProducers {
					for _, s := range o.keep(bench.ByteStrategies, bench.Memcpy) {
						if s == bench.Memcpy && n != 1 {
							continue // the limit: one C thread copying
						}
						c := cell(scBytes, bytesCase(size, n), s)
						c.Size = size
						msgs := sized(bytesMessages(size), o.scale)
						steps = append(steps, step{fmt.Sprintf("bytes %s %s×%d", s, sizeName(size), n), func(int) error {
							r, err := bench.MeasureBytes(bench.BytesConfig{Strategy: s, Producers: n, Size: size, Messages: msgs})
							if err != nil {
								return err
							}
							c.EventsPerSec = append(c.EventsPerSec, r.MsgsPerSec())
							c.MBPerSec = append(c.MBPerSec, r.MBPerSec())
							c.mallocs += r.Mallocs
							c.msgs += r.Messages
							return nil
						}})
					}
				}
			}
			for _, s := range o.keep(bench.ByteLatencyStrategies, bench.Noop) {
				c := cell(scBytesLat, bytesLatCase, s)
				c.Size = bytesLatSize
				steps = append(steps, step{fmt.Sprintf("bytes latency %s", s), func(int) error {
					r, ns, err := bench.MeasureBytesLatency(bench.BytesLatencyConfig{Strategy: s, Size: bytesLatSize,
						Events: sized(bytesLatEvents, o.scale), Rate: bytesLatRate})
					if err != nil {
						return err
					}
					addLatency(c, r, ns)
					c.mallocs += uint64(math.Round(r.AllocsPerMsg * float64(r.Accepted)))
					c.msgs += r.Accepted
					return nil
				}})
			}
		case scWake:
			for _, cond := range parkedConditions {
				cs := "parked consumer" + cond.suffix
				// The C-only floor first: a C thread waking a C thread.
				floor := cell(sc, cs, bench.FutexWake)
				n := sized(wakeEvents*cond.share/100, o.scale)
				steps = append(steps, step{"wake futex floor" + cond.suffix, func(int) error {
					return cond.run(func() error {
						r, ns, err := bench.MeasureFloor(bench.FutexWake, n, parkGap)
						if err == nil {
							addLatency(floor, r, ns)
						}
						return err
					})
				}})
				for _, s := range o.keep(bench.WakeStrategies) {
					c := cell(sc, cs, s)
					steps = append(steps, step{fmt.Sprintf("wake %s%s", s, cond.suffix), func(int) error {
						return cond.run(func() error {
							r, ns, err := bench.MeasureWake(bench.WakeConfig{Strategy: s, Events: n, Gap: parkGap})
							if err == nil {
								addLatency(c, r, ns)
							}
							return err
						})
					}})
				}
			}
		}
	}
	// Repetitions go round the whole plan rather than repeating each
	// cell in place, so that a burst of noise from elsewhere on the
	// machine hits one repetition of many cells, where the spread shows
	// it, rather than every repetition of one.
	pb.start(len(steps) * o.reps)
	for r := range o.reps {
		for _, st := range steps {
			pb.step(st.label)
			if err := st.run(r); err != nil {
				return nil, fmt.Errorf("%s: %w", st.label, err)
			}
		}
	}
	for _, c := range rep.Cells {
		c.finish()
		if c.Spread > noisyThreshold {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s %s %s: repetitions differ %.1f×", c.Scenario, c.Case, c.Strategy, c.Spread))
		}
	}
	rep.Machine.LoadAfter = loadAvg()
	rep.Targets = targets(rep)
	return rep, nil
}

func pcts(r bench.LatencyResult) Pcts {
	return Pcts{r.Samples, r.P50, r.P90, r.P99, r.P999, r.P9999, r.Max, r.Mean}
}

// finish computes the pooled figures and the spread.
func (c *Cell) finish() {
	var head []float64
	if len(c.EventsPerSec) > 0 {
		head = slices.Clone(c.EventsPerSec)
		slices.Sort(head)
		c.Median = median(head)
		c.MedianMB = median(slices.Sorted(slices.Values(c.MBPerSec)))
	}
	if len(c.samples) > 0 {
		slices.Sort(c.samples)
		var r bench.LatencyResult
		bench.Summarize(&r, c.samples)
		p := pcts(r)
		c.Latency = &p
		for _, p := range c.RepPcts {
			head = append(head, p.P50)
		}
	}
	if c.msgs > 0 {
		c.Allocs = float64(c.mallocs) / float64(c.msgs)
	}
	c.Spread = 1
	if len(head) > 1 {
		lo, hi := slices.Min(head), slices.Max(head)
		if lo > 0 {
			c.Spread = hi / lo
		}
	}
}

// median is the middle of sorted xs, 0 for none.
func median(xs []float64) float64 {
	switch {
	case len(xs) == 0:
		return 0
	case len(xs)%2 == 0:
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

func machine() Machine {
	m := Machine{
		CPU:        "unknown",
		Cores:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadAvg(),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load averages, or "" where unknown.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Soak is the soak scenario: 100 M checked messages (at scale 1) from two C
// threads into one queue, the process's footprint sampled ten times.
type Soak struct {
	Messages uint64             `json:"messages"`
	Seconds  float64            `json:"seconds"`
	Samples  []bench.SoakSample `json:"samples"`
	Flat     string             `json:"flat"` // "yes", or what grew
}

func soak(o options) (*Soak, error) {
	n := uint64(max(100_000_000*o.scale, 1_000_000))
	r, err := bench.MeasureSoak(bench.SoakConfig{Messages: n})
	if err != nil {
		return nil, err
	}
	s := &Soak{Messages: n, Seconds: r.Elapsed.Seconds(), Samples: r.Samples, Flat: "yes"}
	if err := r.Flat(); err != nil {
		s.Flat = err.Error()
	}
	return s, nil
}

// Idle is the idle scenario: the CPU time and OS threads of parked
// handles, against the same process before it opened them.
type Idle struct {
	Handles       int     `json:"handles"`
	Seconds       float64 `json:"seconds"` // each window
	BaseCPUms     float64 `json:"base_cpu_ms"`
	IdleCPUms     float64 `json:"idle_cpu_ms"`
	BaseThreads   int     `json:"base_threads"`
	ParkedThreads int     `json:"parked_threads"`
}

func idle(o options) (*Idle, error) {
	r, err := bench.MeasureIdle(time.Duration(max(10*o.scale, 0.5) * float64(time.Second)))
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return &Idle{r.Handles, r.Window.Seconds(), ms(r.BaseCPU), ms(r.IdleCPU), r.BaseThreads, r.ParkedThreads}, nil
}

// condition is a state of the process that wake-ups and parked calls are
// measured in: idle; Go threads blocked in C (a C main loop, a GUI or audio
// library); GOMAXPROCS=1; every P busy with goroutines that never block.
type condition struct {
	suffix   string // after the case name; "" for idle
	share    int    // percent of the events to run (every P busy is slow)
	setup    func() (undo func(), err error)
	goThread bool          // calls: the caller is a thread Go created, blocked in C
	gap      time.Duration // between events; 0 means parkGap
}

// every is the condition's gap between events.
func (c condition) every() time.Duration {
	if c.gap == 0 {
		return parkGap
	}
	return c.gap
}

func (c condition) run(f func() error) error {
	undo, err := c.setup()
	if err != nil {
		return err
	}
	defer undo()
	return f()
}

var parkedConditions = []condition{
	{"", 100, func() (func(), error) { return func() {}, nil }, false, 0},
	{", Go threads blocked in C", 100, func() (func(), error) { return bench.StartLoad(bench.LoadBlockedC, 0) }, false, 0},
	{", GOMAXPROCS=1", 100, func() (func(), error) {
		prev := runtime.GOMAXPROCS(1)
		return func() { runtime.GOMAXPROCS(prev) }, nil
	}, false, 0},
	{", every P busy", 5, func() (func(), error) { return bench.StartLoad(bench.LoadBusy, 0) }, false, 0},
}

// callConditions are parkedConditions and, for calls, one more: the
// caller is a thread the Go runtime created, blocked in C (Go → C →
// foreign_call, as from a C main loop or a GUI toolkit's callback). Its
// floor is the idle one, measured again beside it.
var callConditions = append(slices.Clone(parkedConditions[:3]),
	condition{", caller a Go thread in C", 100, parkedConditions[0].setup, true, 0},
	condition{", one call every 10.7 ms", 10, parkedConditions[0].setup, false, audioPeriod},
	parkedConditions[3])

// audioPeriod is an audio callback's period: 512 frames at 48 kHz.
const audioPeriod = 10667 * time.Microsecond
