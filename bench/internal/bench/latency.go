package bench

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/foreigncall/foreign"
)

// LatencyConfig configures a [Prober]. The zero value times [Noop] at 1 M
// calls per second.
type LatencyConfig struct {
	Strategy Strategy // one of LatencyStrategies

	// Rate is the number of calls per second. 0 means 1,000,000.
	Rate int

	// Burst is the most timed calls the C thread makes per hand-off: Run
	// splits longer runs. It sizes the C sample buffer (8 bytes a call).
	// 0 means 10,000.
	Burst int

	// Warmup is the number of untimed calls before each burst, at the same
	// rate, so that every timed call finds the consumer in its steady
	// state. 0 means 1 ms worth; negative means none.
	Warmup int

	// Capacity is the foreign queue's capacity or the channel's buffer.
	// 0 means 65,536: a 65 ms backlog at 1 M/s, so that a consumer stalled
	// by the load shows as latency on the consumer side, not as rejections.
	Capacity int

	// CountAllocs makes Run read runtime.MemStats around each burst, which
	// stops the world twice a burst (outside the timed calls). Everything
	// the process allocates in the meantime counts, so it means allocations
	// per message only without a load.
	CountAllocs bool

	// OnGoThread makes the calls from the goroutine that calls Run, on its
	// thread (one the Go runtime created) blocked in C for each burst,
	// instead of from a thread C created.
	OnGoThread bool

	// Timeout bounds the wait for the consumer to catch up after a burst.
	// 0 means 30 s.
	Timeout time.Duration
}

// LatencyResult is a summary of the calls timed so far. Times are in
// nanoseconds, as the C thread saw them around each call.
type LatencyResult struct {
	Strategy Strategy
	Samples  int // timed calls

	P50, P90, P99, P999, P9999, Max, Mean float64

	Accepted  uint64 // calls that succeeded, warm-up included
	Delivered uint64 // messages the Go consumer has received (export+chan, foreign)
	Rejected  uint64 // foreign posts refused as full (timed, not retried)
	Late      uint64 // timed calls that started late because the one before overran its slot
	Wakeups   uint64 // system calls posts made to wake the parked consumer (foreign)
	Lost      uint64 // accepted posts the consumer never saw (async coalescing)

	// AllocsPerMsg is Go heap allocations per accepted call; NaN without
	// LatencyConfig.CountAllocs.
	AllocsPerMsg float64

	// Library is the handle's own histogram of the same latency
	// (foreign.Latency.Queued), when the strategy records one: the wake-up
	// scenario's foreign queue does, so that the report can set the
	// library's figures beside the harness's.
	Library *foreign.Histogram
}

// Prober runs one strategy's paced C thread and consumer, and collects the
// samples of every Run. Its methods must not be called concurrently.
type Prober struct {
	cfg    LatencyConfig
	c      cProber
	q      *foreign.Queue[msg]
	sink   *chanSink
	alt    *altConsumer // the other strategies' consumers
	chk    *checker     // nil for noop and export: the C side checks those
	period float64      // ns between calls

	samples  []uint64 // ticks
	accepted uint64   // what the consumer must have received
	rejected uint64
	late     uint64
	mallocs  uint64
	counted  uint64 // accepted calls covered by mallocs

	ms0, ms1 runtime.MemStats // here, not on Run's stack: each is 5 KB
}

// NewProber starts a strategy's consumer and its paced C thread.
func NewProber(cfg LatencyConfig) (*Prober, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = Noop
	}
	if !slices.Contains(AllLatencyStrategies, cfg.Strategy) && !slices.Contains(CallStrategies, cfg.Strategy) {
		return nil, fmt.Errorf("bench: %q is not a latency strategy", cfg.Strategy)
	}
	if cfg.Rate < 0 || cfg.Burst < 0 || cfg.Capacity < 0 || cfg.Timeout < 0 {
		return nil, errors.New("bench: negative latency setting")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1_000_000
	}
	if cfg.Burst == 0 {
		cfg.Burst = 10_000
	}
	switch {
	case cfg.Warmup == 0:
		cfg.Warmup = max(cfg.Rate/1000, 1)
	case cfg.Warmup < 0:
		cfg.Warmup = 0
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 1 << 16
	}
	if cfg.Capacity > maxCapacity {
		return nil, fmt.Errorf("bench: capacity %d over %d", cfg.Capacity, maxCapacity)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	p := &Prober{cfg: cfg, period: 1e9 / float64(cfg.Rate)}

	var target uintptr
	var err error
	switch cfg.Strategy {
	case Foreign, ForeignLatency:
		p.chk = newChecker(1, 0, true)
		if p.q, err = newForeignQueueLat(p.chk, cfg.Capacity, cfg.Strategy == ForeignLatency); err != nil {
			return nil, err
		}
		target = uintptr(p.q.Token())
	case ExportChan:
		p.chk = newChecker(1, 0, true)
		if p.sink, err = newChanSink(p.chk, cfg.Capacity); err != nil {
			return nil, err
		}
		target = uintptr(p.sink.slot)
	case Export, Noop:
	default:
		// The C thread's seq continues across bursts from 0, one producer.
		if p.alt, err = startAlt(cfg.Strategy, 1, 0, cfg.Capacity); err != nil {
			return nil, err
		}
		p.chk = p.alt.chk
		target = p.alt.target
	}
	if p.c, err = newCProber(cfg.Strategy.kind(), target, cfg.Burst); err != nil {
		_ = p.closeConsumer()
		return nil, fmt.Errorf("bench: start prober: %w", err)
	}
	return p, nil
}

// Run makes events timed calls at the configured rate, in bursts, and
// waits after each burst until the consumer has received every accepted
// message. It returns an error if a call failed or a message was lost or
// reordered.
func (p *Prober) Run(events int) error {
	for events > 0 {
		n := min(events, p.cfg.Burst)
		if p.cfg.CountAllocs {
			runtime.ReadMemStats(&p.ms0)
		}
		b, err := p.c.run(p.cfg.Warmup, n, p.period, p.cfg.OnGoThread)
		if err != nil {
			return fmt.Errorf("bench: run prober: %w", err)
		}
		p.accepted += b.accepted
		if err := p.catchUp(); err != nil {
			return err
		}
		if p.cfg.CountAllocs {
			runtime.ReadMemStats(&p.ms1)
			p.mallocs += p.ms1.Mallocs - p.ms0.Mallocs
			p.counted += b.accepted
		}
		p.samples = append(p.samples, p.c.samples(n)...)
		p.rejected += b.rejected
		p.late += b.late
		if b.failed > 0 {
			return fmt.Errorf("bench: %s: %d of %d calls failed: %s",
				p.cfg.Strategy, b.failed, p.cfg.Warmup+n, strerror(b.lastCode))
		}
		events -= n
	}
	return nil
}

// catchUp waits until the consumer has received every accepted message.
func (p *Prober) catchUp() error {
	if p.chk == nil {
		return nil
	}
	deadline := time.Now().Add(p.cfg.Timeout)
	for p.chk.got.Load() < p.accepted {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %s: consumer received %d of %d messages in %v",
				p.cfg.Strategy, p.chk.got.Load(), p.accepted, p.cfg.Timeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
	if bad := p.chk.bad.Load(); bad > 0 {
		return fmt.Errorf("bench: %s: %d messages out of order", p.cfg.Strategy, bad)
	}
	return nil
}

// Result summarises every sample so far.
func (p *Prober) Result() LatencyResult {
	r := LatencyResult{
		Strategy:     p.cfg.Strategy,
		Samples:      len(p.samples),
		Accepted:     p.accepted,
		Rejected:     p.rejected,
		Late:         p.late,
		AllocsPerMsg: math.NaN(),
	}
	if p.chk != nil {
		r.Delivered = p.chk.got.Load()
	}
	if p.q != nil {
		r.Wakeups = p.q.Stats().Wakeups
	}
	if p.alt != nil && p.alt.seen != nil {
		r.Lost = p.accepted - p.alt.seen.Load()
	}
	if p.cfg.CountAllocs && p.counted > 0 {
		r.AllocsPerMsg = float64(p.mallocs) / float64(p.counted)
	}
	summarize(&r, p.samples, nsPerTick(), 0)
	return r
}

// Samples returns every sample so far in nanoseconds, sorted.
func (p *Prober) Samples() []float64 {
	slices.Sort(p.samples)
	return toNs(p.samples, nsPerTick(), 0)
}

func toNs(ticks []uint64, scale, minus float64) []float64 {
	ns := make([]float64, len(ticks))
	for i, t := range ticks {
		ns[i] = max(float64(t)*scale-minus, 0)
	}
	return ns
}

// summarize fills r's percentiles from samples in ticks (sorting them),
// converted to ns with scale, less minus ns each (at least 0). The
// conversion keeps the order, so the sorted ticks give sorted ns.
func summarize(r *LatencyResult, samples []uint64, scale, minus float64) {
	slices.Sort(samples)
	Summarize(r, toNs(samples, scale, minus))
}

// Summarize fills r's sample count, percentiles, maximum and mean from
// samples in ns, sorted ascending.
func Summarize(r *LatencyResult, ns []float64) {
	r.Samples = len(ns)
	if len(ns) == 0 {
		return
	}
	at := func(q float64) float64 {
		// Nearest rank: the smallest sample with at least q of them at or
		// below it.
		i := int(math.Ceil(q*float64(len(ns)))) - 1
		return ns[min(max(i, 0), len(ns)-1)]
	}
	r.P50, r.P90, r.P99, r.P999, r.P9999 = at(0.50), at(0.90), at(0.99), at(0.999), at(0.9999)
	r.Max = ns[len(ns)-1]
	var sum float64
	for _, s := range ns {
		sum += s
	}
	r.Mean = sum / float64(len(ns))
}

// Close stops the C thread, then the consumer.
func (p *Prober) Close() error {
	p.c.free()
	return p.closeConsumer()
}

func (p *Prober) closeConsumer() error {
	if p.alt != nil {
		return p.alt.close()
	}
	if p.sink != nil {
		p.sink.close()
	}
	if p.q != nil {
		return p.q.Close()
	}
	return nil
}

// MeasureLatency runs a Prober for events timed calls under load (with the
// load's default goroutines) and returns its result. For several loads or
// strategies in one process, use NewProber and StartLoad directly.
func MeasureLatency(cfg LatencyConfig, events int, load Load) (LatencyResult, error) {
	p, err := NewProber(cfg)
	if err != nil {
		return LatencyResult{}, err
	}
	defer p.Close()
	stop, err := StartLoad(load, 0)
	if err != nil {
		return LatencyResult{}, err
	}
	err = p.Run(events)
	stop()
	return p.Result(), err
}
