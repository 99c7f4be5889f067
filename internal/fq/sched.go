// sched.go: what the consumer reads of the Go scheduler before it spins or
// sleeps in C, and its yields.

package fq

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// The runtime's monitor takes the P of a goroutine that has run for 10 ms
// without a new scheduling tick, on its next look, if the goroutine is in
// C at the time; getting a P back on return costs a wake-up of the monitor
// (measured with perf: 16 µs of an 18 µs wake-up). A consumer that parks
// on the futex therefore yields (runtime.Gosched, a new tick) before it
// sleeps, if it has not for tickEvery: a consumer woken more often than
// every 10 ms keeps its P. It does not yield on every park, nor while it
// spins: with a P idle, each Gosched also wakes an idle thread to look for
// work, which costs a system call and moves the consumer between threads
// and CPUs (measured: wake-up median 9.5 µs with a yield per spin step,
// 2 µs without).
const tickEvery = 5 * time.Millisecond

// refreshTick yields before a sleep in C when goroutines wait for a free P
// or, with none waiting, when the last yield is tickEvery old; never when
// every P is busy (see schedState).
func (h *Handle) refreshTick(now time.Time) {
	if runnable, free := h.schedState(); runnable && free || !runnable && now.Sub(h.yielded) >= tickEvery {
		h.yielded = now
		runtime.Gosched()
	}
}

// schedState reports whether goroutines wait for a P (runnable) and
// whether a P is free or in a system call (fewer goroutines run than
// GOMAXPROCS). A consumer about to sleep in C keeps its P for 20 µs and
// more (the runtime takes it back only on its monitor's next look), so
// goroutines its handler readied, which wait in that P's run queue, would
// wait as long: it yields to them first (measured: a handler's channel
// send to a waiting goroutine, p90 96 µs without, 19 µs with). When every
// P runs a goroutine it never yields, as an //export callback's thread
// does not: it would wait behind CPU-bound goroutines until the runtime
// preempts them (10 ms). The samples are kept in the handle: no
// allocation per park.
func (h *Handle) schedState() (runnable, free bool) {
	if h.sched == nil {
		h.sched = []metrics.Sample{
			{Name: "/sched/goroutines/runnable:goroutines"},
			{Name: "/sched/goroutines/running:goroutines"},
			{Name: "/sched/gomaxprocs:threads"},
		}
	}
	metrics.Read(h.sched)
	var v [3]uint64
	for i, s := range h.sched {
		if s.Value.Kind() != metrics.KindUint64 {
			return false, false // not in this Go: never yield
		}
		v[i] = s.Value.Uint64()
	}
	return v[0] > 0, v[1] < v[2]
}

// procs is GOMAXPROCS as schedState last read it (Park reads it before
// each sleep on the futex), without taking the scheduler's lock again.
func (h *Handle) procs() int {
	if h.sched != nil && h.sched[2].Value.Kind() == metrics.KindUint64 {
		return int(h.sched[2].Value.Uint64())
	}
	return runtime.GOMAXPROCS(0)
}
