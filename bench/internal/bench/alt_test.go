package bench

import (
	"testing"
	"time"
)

// TestAltLatency runs every added latency and call strategy on a tiny
// workload, two bursts each.
func TestAltLatency(t *testing.T) {
	var ss []Strategy
	ss = append(ss, AllLatencyStrategies[len(LatencyStrategies):]...)
	ss = append(ss, CallForeign, CallCond)
	for _, s := range ss {
		t.Run(string(s), func(t *testing.T) {
			p, err := NewProber(LatencyConfig{Strategy: s, Burst: 500, Warmup: 50, Rate: 200_000, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Run(999); err != nil {
				t.Fatal(err)
			}
			r := p.Result()
			t.Logf("%+v", r)
			if r.Samples != 999 || !(r.P50 > 0) || r.Accepted != 2*50+999 {
				t.Errorf("result %+v", r)
			}
			if s != Async && r.Lost != 0 {
				t.Errorf("%d lost", r.Lost)
			}
		})
	}
}

// TestAltThroughput runs every added throughput strategy with one and two
// producers on a tiny workload.
func TestAltThroughput(t *testing.T) {
	for _, s := range []Strategy{ForeignGo, EventFD, Pipe, Async, CondVar} {
		for _, n := range []int{1, 2} {
			r, err := MeasureThroughput(ThroughputConfig{Strategy: s, Producers: n, Messages: 5000, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatalf("%s×%d: %v", s, n, err)
			}
			t.Logf("%s×%d: %+v", s, n, r)
			if r.Messages != uint64(5000*n) || r.Elapsed <= 0 {
				t.Errorf("%s×%d: %+v", s, n, r)
			}
			if s != Async && r.Lost != 0 {
				t.Errorf("%s×%d: %d lost", s, n, r.Lost)
			}
		}
	}
}

func TestWakeAndFresh(t *testing.T) {
	for _, s := range WakeStrategies {
		r, ns, err := MeasureWake(WakeConfig{Strategy: s, Events: 50, Gap: 100 * time.Microsecond})
		if err != nil {
			t.Fatalf("wake %s: %v", s, err)
		}
		t.Logf("wake %s: %+v", s, r)
		if r.Samples != 50 || len(ns) != 50 {
			t.Errorf("wake %s: %d samples", s, r.Samples)
		}
	}
	for _, s := range FreshStrategies {
		r, ns, err := MeasureFresh(s, 50)
		if err != nil {
			t.Fatalf("fresh %s: %v", s, err)
		}
		t.Logf("fresh %s: %+v", s, r)
		if r.Samples != 50 || len(ns) != 50 {
			t.Errorf("fresh %s: %d samples", s, r.Samples)
		}
	}
}

// The C-only floors measure something: every sample is positive and the
// median well under the gap between events.
func TestFloors(t *testing.T) {
	for _, s := range []Strategy{FutexWake, FutexPing} {
		r, ns, err := MeasureFloor(s, 200, 100*time.Microsecond)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if len(ns) != 200-16 || r.P50 <= 0 || r.P50 > 1e6 {
			t.Errorf("%s: %d samples, p50 %.0f ns", s, len(ns), r.P50)
		}
		t.Logf("%s: p50 %.0f ns, p99 %.0f ns", s, r.P50, r.P99)
	}
	if _, _, err := MeasureFloor(Foreign, 10, time.Microsecond); err == nil {
		t.Error("MeasureFloor accepted a strategy that is not a floor")
	}
}
