package kit

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Latency summarises the durations of a library thread's callbacks.
type Latency struct {
	N                   int
	P50, P99, P999, Max time.Duration
}

// Summarize sorts ns (nanoseconds) in place and returns its percentiles.
func Summarize(ns []uint64) Latency {
	if len(ns) == 0 {
		return Latency{}
	}
	slices.Sort(ns)
	at := func(q float64) time.Duration {
		i := int(q * float64(len(ns)-1))
		return time.Duration(ns[i])
	}
	return Latency{N: len(ns), P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: time.Duration(ns[len(ns)-1])}
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %v  p99 %v  p99.9 %v  max %v  (%d callbacks)", l.P50, l.P99, l.P999, l.Max, l.N)
}

// Garbage starts workers goroutines that allocate short-lived garbage as
// fast as they can, holding a few MiB live so that the collector runs
// continually and the goroutines compete for every P, as a busy Go program
// would. stop ends them and returns the number of GC cycles that ran.
//
// This is the load under which a callback into Go waits: an //export call
// from a C thread needs a P, and may be made to assist the collector.
func Garbage(workers int) (stop func() uint64) {
	before := gcCycles()
	var quit atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			live := make([][]byte, 1024) // ~8 MiB live per worker
			x := uint64(w)*0x9E3779B97F4A7C15 | 1
			for i := 0; !quit.Load(); i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				b := make([]byte, 64+x%16384)
				b[0] = byte(i)
				live[i%len(live)] = b
			}
		})
	}
	return func() uint64 {
		quit.Store(true)
		wg.Wait()
		return gcCycles() - before
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Row is one line of a side-by-side table: one binding, one load.
type Row struct {
	Binding  string        // how the callback hands over: post, export, call, ...
	GC       bool          // run under Garbage
	Messages int           // messages (or calls) checked
	Waited   uint64        // posts that found the queue full and waited for room
	Lost     uint64        // posts refused, counted by the sender
	Elapsed  time.Duration // first send to last message handled
	GCCycles uint64
	Callback Latency // the library thread's time in the hand-off

	// Hand-offs during which the library thread slept (a voluntary context
	// switch: it waited for a P, the collector, a lock) or was preempted
	// (an involuntary one: the kernel ran another thread).
	Slept, Preempted uint64
}

// Rate returns messages per second end to end.
func (r Row) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Messages) / r.Elapsed.Seconds()
}

// Table formats rows as an aligned table.
func Table(rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-14s %-3s %8s %6s %5s %10s %5s %9s %9s %9s %9s %6s %7s\n",
		"binding", "gc", "messages", "waited", "lost", "msgs/s", "gcs", "cb p50", "cb p99", "cb p99.9", "cb max", "slept", "preempt")
	for _, r := range rows {
		gc := "off"
		if r.GC {
			gc = "on"
		}
		fmt.Fprintf(&b, "%-14s %-3s %8d %6d %5d %10.0f %5d %9v %9v %9v %9v %6d %7d\n",
			r.Binding, gc, r.Messages, r.Waited, r.Lost, r.Rate(), r.GCCycles,
			round(r.Callback.P50), round(r.Callback.P99), round(r.Callback.P999), round(r.Callback.Max),
			r.Slept, r.Preempted)
	}
	return b.String()
}

// round keeps three significant digits, enough to compare.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond)
	}
	return d
}

// Machine describes what the figures were taken on: the CPUs Go may use
// and the load average, since other processes on the same cores move every
// number in the table.
func Machine() string {
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("GOMAXPROCS %d, %d CPUs, load average %s", runtime.GOMAXPROCS(0), runtime.NumCPU(), load)
}
