package foreign

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every value lands in a bucket that holds it, buckets tile the range
// without gaps, and none is wider than 1/64 of its values.
func TestHistogramBuckets(t *testing.T) {
	for i := range histBuckets - 1 {
		lo, hi := bucketLow(i), bucketHigh(i)
		if hi != bucketLow(i+1) {
			t.Fatalf("bucket %d ends at %d, the next starts at %d", i, hi, bucketLow(i+1))
		}
		if lo >= 64 && float64(hi-lo) > float64(lo)/64 {
			t.Fatalf("bucket %d [%d, %d) is wider than 1/64", i, lo, hi)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := int64(r.Uint64N(1 << 40))
		if r.IntN(2) == 0 {
			v >>= r.IntN(40)
		}
		b := bucket(v)
		if v < bucketLow(b) || v >= bucketHigh(b) {
			t.Fatalf("%d in bucket %d [%d, %d)", v, b, bucketLow(b), bucketHigh(b))
		}
	}
	if bucket(1<<50) != histBuckets-1 || bucket(0) != 0 {
		t.Error("the ends")
	}
}

// Quantiles are within a bucket's width of the exact ones; count, min,
// max and mean are exact; Merge adds.
func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rec := newRecorder()
	var vals []int64
	var sum int64
	for range 50000 {
		v := int64(r.ExpFloat64() * 20000) // microseconds-scale latencies with a tail
		vals = append(vals, v)
		sum += v
		rec.record(v)
	}
	rec.record(-5) // a clock read across CPUs: counts as 0
	vals = append(vals, 0)
	slices.Sort(vals)
	h := rec.snapshot()
	if h.Count() != uint64(len(vals)) || h.Min() != 0 || h.Max() != time.Duration(vals[len(vals)-1]) ||
		h.Mean() != time.Duration(sum/int64(len(vals))) {
		t.Errorf("count %d min %v max %v mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		exact := vals[min(int(q*float64(len(vals))+0.5), len(vals))-1]
		got := int64(h.Quantile(q))
		if d := got - exact; d < -exact/50-1 || d > exact/50+1 {
			t.Errorf("p%v: %d, exact %d", q*100, got, exact)
		}
	}
	var n uint64
	h.Buckets(func(_ time.Duration, c uint64) { n += c })
	if n != h.Count() {
		t.Errorf("buckets hold %d of %d", n, h.Count())
	}
	h2 := rec.snapshot()
	h2.Merge(h)
	if h2.Count() != 2*h.Count() || h2.Quantile(0.5) != h.Quantile(0.5) || h2.Max() != h.Max() {
		t.Errorf("merged: %d, p50 %v", h2.Count(), h2.Quantile(0.5))
	}
	h3 := rec.snapshot()
	l1 := newRecorder()
	for _, v := range vals {
		l1.record(v)
	}
	first := l1.snapshot()
	for range 10 {
		l1.record(5e9) // after the first snapshot: only these are left
	}
	diff := l1.snapshot()
	diff.Sub(first)
	if diff.Count() != 10 || diff.Quantile(0.5) < 4900*time.Millisecond || diff.Max() != 5*time.Second ||
		diff.Min() < 4900*time.Millisecond || diff.Mean() != 5*time.Second {
		t.Errorf("Sub: count %d p50 %v min %v max %v mean %v", diff.Count(), diff.Quantile(0.5), diff.Min(), diff.Max(), diff.Mean())
	}
	h3.Sub(h3)
	if h3.Count() != 0 || h3.Max() != 0 {
		t.Errorf("h.Sub(h): count %d max %v", h3.Count(), h3.Max())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 || newRecorder().snapshot().Min() != 0 {
		t.Error("an empty histogram")
	}
}

// Recording allocates nothing.
func TestRecorderAllocs(t *testing.T) {
	r := newRecorder()
	if a := testing.AllocsPerRun(100, func() { r.record(12345) }); a != 0 {
		t.Errorf("%v allocations per record", a)
	}
}
