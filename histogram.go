// histogram.go: Histogram, a fixed-memory log-linear histogram of
// durations, and its recorder.

package foreign

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The buckets are HdrHistogram's: values below 2^histSub ns each have a
// bucket of their own; above, every power of two is cut into 2^histSub
// equal buckets, so a bucket is at most 1/64 (1.6%) of its values wide.
// Values up to 2^histTop ns (18 minutes) are kept; larger ones count in
// the last bucket, and Max keeps them exactly.
const (
	histSub     = 6
	histTop     = 40
	histBuckets = (histTop - histSub + 1) << histSub
)

// Histogram is a snapshot of recorded durations: their count, sum, least
// and largest, and their distribution in log-linear buckets of at most
// 1.6% relative width. Quantiles are exact to within a bucket.
type Histogram struct {
	counts   [histBuckets]uint64
	n, sum   uint64
	min, max int64
}

// bucket is the bucket of v ns (v >= 0).
func bucket(v int64) int {
	u := uint64(v)
	if u < 1<<histSub {
		return int(u)
	}
	e := bits.Len64(u) - 1 // u is in [2^e, 2^(e+1))
	if e >= histTop {
		return histBuckets - 1
	}
	return (e-histSub+1)<<histSub | int(u>>(e-histSub))&(1<<histSub-1)
}

// bucketLow is the least value in bucket i, and bucketHigh one past its
// largest.
func bucketLow(i int) int64 {
	if i < 1<<histSub {
		return int64(i)
	}
	e := i>>histSub + histSub - 1
	return int64(1<<e | (i&(1<<histSub-1))<<(e-histSub))
}

func bucketHigh(i int) int64 {
	if i < 1<<histSub {
		return int64(i) + 1
	}
	e := i>>histSub + histSub - 1
	return bucketLow(i) + 1<<(e-histSub)
}

// Count is the number of durations recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest duration recorded (0 if none).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the least duration recorded (0 if none).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the mean duration recorded (0 if none).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the duration below which the fraction q (0 to 1) of
// the durations recorded fall: Quantile(0.99) is the p99. It is the middle
// of the bucket that holds it (within 0.8%), never below Min or above Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := (bucketLow(i) + bucketHigh(i) - 1) / 2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Buckets calls f for each bucket that holds durations, in increasing
// order: the bucket's upper bound (exclusive) and its count. The last
// bucket's bound is above Max for durations past 18 minutes.
func (h *Histogram) Buckets(f func(upper time.Duration, count uint64)) {
	for i, c := range h.counts {
		if c != 0 {
			f(time.Duration(bucketHigh(i)), c)
		}
	}
}

// Merge adds the durations of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

// Sub removes from h the durations of earlier, an earlier snapshot of the
// same histogram, leaving what was recorded between the two (the latency
// of the last minute, say, or of a run after its warm-up). Count, the
// buckets and the mean are exact; Min and Max become the bounds of the
// buckets left, within Min and Max of h.
func (h *Histogram) Sub(earlier *Histogram) {
	h.n -= min(earlier.n, h.n)
	h.sum -= min(earlier.sum, h.sum)
	lo, hi := -1, -1
	for i := range h.counts {
		h.counts[i] -= min(earlier.counts[i], h.counts[i])
		if h.counts[i] != 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		h.n, h.sum, h.min, h.max = 0, 0, 0, 0
		return
	}
	h.min = max(h.min, bucketLow(lo))
	h.max = min(h.max, bucketHigh(hi)-1)
}

// recorder is where a handle records durations: fixed memory, no lock, no
// allocation. Its words are atomic because Func workers record at once
// and Latency reads while they do; a snapshot is not a consistent cut, but
// each count is exact.
type recorder struct {
	counts   [histBuckets]atomic.Uint64
	n, sum   atomic.Uint64
	min, max atomic.Int64
}

func newRecorder() *recorder {
	r := &recorder{}
	r.min.Store(1<<63 - 1)
	return r
}

// record adds a duration of d ns (negative, as a clock read across CPUs
// may give for a tiny wait, counts as 0).
func (r *recorder) record(d int64) {
	d = max(d, 0)
	r.counts[bucket(d)].Add(1)
	r.n.Add(1)
	r.sum.Add(uint64(d))
	for m := r.max.Load(); d > m && !r.max.CompareAndSwap(m, d); m = r.max.Load() {
	}
	for m := r.min.Load(); d < m && !r.min.CompareAndSwap(m, d); m = r.min.Load() {
	}
}

// snapshot copies the recorder into a Histogram.
func (r *recorder) snapshot() *Histogram {
	h := &Histogram{n: r.n.Load(), sum: r.sum.Load(), max: r.max.Load(), min: r.min.Load()}
	if h.n == 0 {
		h.min = 0
	}
	for i := range r.counts {
		h.counts[i] = r.counts[i].Load()
	}
	return h
}
