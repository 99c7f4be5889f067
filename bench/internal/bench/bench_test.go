package bench

import (
	"flag"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	flagRate      = flag.Int("rate", 1_000_000, "paced calls per second in BenchmarkPostLatency")
	flagBurst     = flag.Int("burst", 10_000, "timed calls per benchmark iteration in BenchmarkPostLatency")
	flagMessages  = flag.Int("messages", 100_000, "messages per producer per iteration in BenchmarkThroughput")
	flagProducers = flag.String("producers", "1,2", "comma-separated producer thread counts for BenchmarkThroughput")
)

// BenchmarkPostLatency times calls from a paced C thread, per strategy and
// load. An iteration is one burst of -burst calls; the metrics describe
// every call of every iteration. ns/op is therefore about -burst/-rate
// seconds and says little; allocs/op counts the load's allocations too, so
// allocs/msg (without load) is the per-message figure.
func BenchmarkPostLatency(b *testing.B) {
	for _, load := range Loads {
		b.Run("load="+string(load), func(b *testing.B) {
			for _, s := range LatencyStrategies {
				b.Run("strategy="+string(s), func(b *testing.B) {
					benchLatency(b, s, load)
				})
			}
		})
	}
}

func benchLatency(b *testing.B, s Strategy, load Load) {
	p, err := NewProber(LatencyConfig{
		Strategy:    s,
		Rate:        *flagRate,
		Burst:       *flagBurst,
		CountAllocs: load == LoadNone,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	stop, err := StartLoad(load, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Run(*flagBurst); err != nil {
			b.Fatal(err)
		}
	}
	stop()
	r := p.Result()
	b.ReportMetric(r.P50, "p50-ns")
	b.ReportMetric(r.P90, "p90-ns")
	b.ReportMetric(r.P99, "p99-ns")
	b.ReportMetric(r.P999, "p99.9-ns")
	b.ReportMetric(r.P9999, "p99.99-ns")
	b.ReportMetric(r.Max, "max-ns")
	b.ReportMetric(float64(r.Samples), "samples")
	if !math.IsNaN(r.AllocsPerMsg) {
		b.ReportMetric(r.AllocsPerMsg, "allocs/msg")
	}
	if s == Foreign {
		b.ReportMetric(float64(r.Rejected), "rejected")
	}
}

// BenchmarkThroughput sends -messages per producer from C threads as fast
// as they go, per producer count and strategy. An iteration is one run;
// events/s and ns/event cover all runs, from each run's first send to the
// consumer's receipt of its last message. median-ns/event is the median
// run's: on a small machine, a run whose threads the OS crowds onto one core
// can take ten times as long, and it weighs heavily in the sum.
func BenchmarkThroughput(b *testing.B) {
	counts, err := parseCounts(*flagProducers)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("producers=%d", n), func(b *testing.B) {
			for _, s := range ThroughputStrategies {
				b.Run("strategy="+string(s), func(b *testing.B) {
					benchThroughput(b, s, n)
				})
			}
		})
	}
}

func benchThroughput(b *testing.B, s Strategy, producers int) {
	cfg := ThroughputConfig{Strategy: s, Producers: producers, Messages: *flagMessages}
	var (
		sum  ThroughputResult
		runs []float64 // ns/event of each run
	)
	b.ReportAllocs()
	for b.Loop() {
		r, err := MeasureThroughput(cfg)
		if err != nil {
			b.Fatal(err)
		}
		sum.Add(r)
		runs = append(runs, r.NsPerEvent())
	}
	slices.Sort(runs)
	b.ReportMetric(sum.EventsPerSec(), "events/s")
	b.ReportMetric(sum.NsPerEvent(), "ns/event")
	b.ReportMetric(runs[len(runs)/2], "median-ns/event")
	b.ReportMetric(float64(sum.Retries)/float64(sum.Messages), "retries/msg")
	if s != CRing {
		b.ReportMetric(sum.AllocsPerMsg(), "allocs/msg")
	}
}

func parseCounts(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad producer count %q", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// TestLatency runs every strategy under every load on a tiny workload, two
// bursts each (so sequence numbers continue across bursts), and checks the
// results add up.
func TestLatency(t *testing.T) {
	const burst = 1000
	for _, load := range Loads {
		t.Run("load="+string(load), func(t *testing.T) {
			for _, s := range LatencyStrategies {
				t.Run("strategy="+string(s), func(t *testing.T) {
					p, err := NewProber(LatencyConfig{
						Strategy:    s,
						Burst:       burst,
						Warmup:      100,
						CountAllocs: load == LoadNone,
						Timeout:     20 * time.Second,
					})
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					stop, err := StartLoad(load, 0)
					if err != nil {
						t.Fatal(err)
					}
					err = p.Run(2*burst - 1) // the second burst is short
					stop()
					if err != nil {
						t.Fatal(err)
					}
					checkLatency(t, p.Result(), 2*burst-1, 2*(100+burst)-1, load == LoadNone)
				})
			}
		})
	}
}

func checkLatency(t *testing.T, r LatencyResult, samples int, calls uint64, counted bool) {
	t.Helper()
	t.Logf("%+v", r)
	if r.Samples != samples {
		t.Errorf("%d samples, want %d", r.Samples, samples)
	}
	if r.Accepted+r.Rejected != calls {
		t.Errorf("accepted %d + rejected %d != %d calls", r.Accepted, r.Rejected, calls)
	}
	if r.Strategy != Foreign && r.Rejected != 0 {
		t.Errorf("%d rejected calls", r.Rejected)
	}
	switch r.Strategy {
	case Foreign, ExportChan:
		if r.Delivered != r.Accepted {
			t.Errorf("delivered %d of %d accepted", r.Delivered, r.Accepted)
		}
	}
	ps := []float64{r.P50, r.P90, r.P99, r.P999, r.P9999, r.Max}
	if !(ps[0] > 0) {
		t.Errorf("p50 %v ns", ps[0])
	}
	for i := 1; i < len(ps); i++ {
		if ps[i] < ps[i-1] {
			t.Errorf("percentiles out of order: %v", ps)
			break
		}
	}
	if !(r.Mean > 0 && r.Mean <= r.Max) {
		t.Errorf("mean %v ns, max %v ns", r.Mean, r.Max)
	}
	if counted == math.IsNaN(r.AllocsPerMsg) {
		t.Errorf("allocs/msg %v with CountAllocs %v", r.AllocsPerMsg, counted)
	}
}

// TestThroughput runs every strategy with one and two producers on a tiny
// workload, through a small ring so that producers meet a full queue.
func TestThroughput(t *testing.T) {
	const messages = 5000
	for _, n := range []int{1, 2} {
		for _, s := range ThroughputStrategies {
			t.Run(fmt.Sprintf("producers=%d/strategy=%s", n, s), func(t *testing.T) {
				r, err := MeasureThroughput(ThroughputConfig{
					Strategy:  s,
					Producers: n,
					Messages:  messages,
					Capacity:  10, // rounded up to 16
					Timeout:   20 * time.Second,
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%+v: %.0f events/s", r, r.EventsPerSec())
				if r.Strategy != s || r.Producers != n {
					t.Errorf("result for %s/%d", r.Strategy, r.Producers)
				}
				if r.Messages != uint64(n*messages) {
					t.Errorf("%d messages, want %d", r.Messages, n*messages)
				}
				if r.Elapsed <= 0 || !(r.NsPerEvent() > 0) {
					t.Errorf("elapsed %v", r.Elapsed)
				}
			})
		}
	}
}

// TestBadConfig checks that the measurements refuse what they cannot run.
func TestBadConfig(t *testing.T) {
	if _, err := NewProber(LatencyConfig{Strategy: CRing}); err == nil {
		t.Error("NewProber accepted c-ring")
	}
	if _, err := MeasureThroughput(ThroughputConfig{Strategy: Export}); err == nil {
		t.Error("MeasureThroughput accepted export")
	}
	if _, err := ParseStrategy("nope"); err == nil {
		t.Error("ParseStrategy accepted nope")
	}
	if _, err := StartLoad("nope", 0); err == nil {
		t.Error("StartLoad accepted nope")
	}
	for _, s := range append(LatencyStrategies, CRing) {
		if got, err := ParseStrategy(string(s)); got != s || err != nil {
			t.Errorf("ParseStrategy(%q) = %q, %v", s, got, err)
		}
	}
}

// TestLoadStops checks that each load's goroutines are gone when stop
// returns, and that stop may be called twice.
func TestLoadStops(t *testing.T) {
	for _, load := range Loads {
		before := runtime.NumGoroutine()
		stop, err := StartLoad(load, 2)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		stop()
		stop()
		// A goroutine counts until it has returned, a moment after its
		// WaitGroup.Done; and the runtime may start a cleanup goroutine.
		after := runtime.NumGoroutine()
		for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
			after = runtime.NumGoroutine()
		}
		if after > before {
			buf := make([]byte, 1<<16)
			t.Errorf("load %s: %d goroutines before, %d after stop:\n%s",
				load, before, after, buf[:runtime.Stack(buf, true)])
		}
	}
}
