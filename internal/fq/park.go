// park.go: the consumer's spin-then-park policy and its park (futex or wake fd).

package fq

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"time"
)

// The consumer's side of park and wake (block.h): spin a little when the
// ring runs empty, then park, on the futex or on the wake fd.
//
// Parked on the futex, the consumer sleeps in a cgo call: a producer's
// FUTEX_WAKE makes it runnable at once, as fast as a C thread waking a C
// thread, and the return from the call needs only a P. Parked on the wake
// fd, it holds no OS thread, but the runtime notices the fd only when one
// of its threads next polls the network: on an idle process that is the
// background poll, which backs off to 10 ms (measured: 15-25 µs median,
// against 2 µs on the futex; see the README). The futex costs an OS thread
// per parked consumer, so at most maxFutexParked consumers park on it at a
// time and the rest on the fd.
//
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

// maxFutexParked is the largest number of consumers parked on the futex
// at a time, each holding an OS thread: the OS threads the library adds.
const maxFutexParked = 64

// futexParked counts the consumers parked on the futex.
var futexParked atomic.Int32

// Park sleeps until a producer wakes the consumer, ctx is done, or there is
// reason to look again: work() reports work the consumer must not sleep
// through. Spurious returns are allowed.
func (h *Handle) Park(ctx context.Context, work func() bool) error {
	c := h.c
	state := uint32(parkParked)
	if mode := parkMode.Load(); futexPark.Load() && mode != ParkFd && (mode == ParkFutex || h.spin.sporadic()) {
		if futexParked.Add(1) <= maxFutexParked {
			state = parkFutex
			defer futexParked.Add(-1)
		} else {
			futexParked.Add(-1) // the bound is reached: the fd
		}
	}
	if !c.park.CompareAndSwap(parkRunning, state) {
		return nil // a wake-up is being written (WAKING): look again
	}
	// The consumer's side of the Dekker pair: store park, then look at the
	// words producers change before they load park (tail, sig).
	if work() {
		c.park.CompareAndSwap(state, parkRunning)
		return nil
	}
	var err error
	start := time.Now()
	if state == parkFutex {
		h.refreshTick(start)
		err = h.sleepFutex(ctx)
	} else {
		err = h.sleep(ctx)
	}
	h.spin.parked(time.Since(start))
	// A producer has set RUNNING already, unless this was a stale wake-up.
	c.park.CompareAndSwap(state, parkRunning)
	return err
}

// sleepFutex sleeps on the park word until a producer wakes it, ctx is
// done, or a spurious return. A ctx that ends wakes it as a producer
// would: whichever moves park off FUTEX first does the wake-up.
func (h *Handle) sleepFutex(ctx context.Context) error {
	c := h.c
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		stop := context.AfterFunc(ctx, func() {
			if c.park.CompareAndSwap(parkFutex, parkRunning) {
				futexWake(&c.park)
			}
		})
		defer stop()
	}
	// See keepFor: the first keepFor of the park is slept in steps shorter
	// than the runtime's 10 ms, each followed by a look at the scheduling
	// tick, so that the P stays the consumer's.
	start := time.Now()
	keep := keepers.Add(1) < int32(h.procs())
	defer func() {
		if keep {
			keepers.Add(-1)
		}
	}()
	if !keep {
		keepers.Add(-1)
	}
	for c.park.Load() == parkFutex {
		h.sleeps.Add(1)
		if keep && time.Since(start) >= keepFor {
			keep = false
			keepers.Add(-1)
		}
		d := time.Duration(-1)
		if keep {
			d = keepStep
		}
		if !cParkSleep(c, d) {
			// The futex is refused (a seccomp filter, say): park on the fd
			// from now on, rather than spin here.
			futexPark.Store(false)
			return ctx.Err()
		}
		if keep && c.park.Load() == parkFutex {
			h.refreshTick(time.Now())
		}
	}
	return ctx.Err()
}

// keepers counts the consumers keeping their P while parked (keepFor): at
// most GOMAXPROCS-1 at a time, so that one P is always left for the rest
// of the program (its timers and goroutines would otherwise wait up to a
// step, 9 ms).
var keepers atomic.Int32

// A consumer that sleeps in C for 10 ms or more loses its P on the
// runtime's next look, whatever its scheduling tick, and then its wake-up
// pays for a P and a wake-up of the runtime's monitor (measured: a call
// every 10.7 ms, an audio period, took 46 µs at p50 against 7.6 µs for the
// C ping-pong). So for the first keepFor of a park it sleeps keepStep at
// a time and comes back to Go in between, which keeps the P (an idle P is
// not taken before 10 ms): a periodic source up to keepFor apart finds
// the consumer with its P. At most GOMAXPROCS-1 consumers keep their P
// this way at a time (keepers); the others sleep until woken. After keepFor the consumer sleeps until woken,
// so an idle handle costs no CPU; the steps cost one short wake-up every
// keepStep for keepFor after each event.
const (
	keepStep = 9 * time.Millisecond
	keepFor  = 100 * time.Millisecond
)

// sleep blocks on the wake fd through the runtime poller.
func (h *Handle) sleep(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		// If stop finds the AfterFunc started, wait until it has set the
		// deadline before clearing it: cleared first, the past deadline
		// would stay on the fd and every later park would return at once.
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			if kickHook != nil {
				kickHook()
			}
			_ = h.wake.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
				_ = h.wake.SetReadDeadline(time.Time{})
			}
		}()
	}
	var buf [64]byte
	_, err := h.wake.Read(buf[:])
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
	return nil
}

// SpinReset and SpinWait are the consumer's spin-then-park policy (spinner).
func (h *Handle) SpinReset() { h.spin.reset() }

// SpinWait pauses briefly and reports true, or reports false when it is
// time to park.
func (h *Handle) SpinWait() bool { return h.spin.wait(h.othersWait) }

// spinner is the consumer's spin-then-park policy, in one place. Once the
// ring runs empty the consumer keeps looking for a while (the window),
// pausing longer between looks (so it does not pull the cache line
// producers are writing on every few nanoseconds), and then parks. A
// steady stream of messages closer together than the window therefore
// costs producers no system call.
//
// The window adapts, between 0 and spinFor: it doubles when a park turns
// out short (the next message came less than spinFor after the consumer
// parked: spinning would have caught it) and halves when a park is long.
// Sporadic events (a timer, an audio period) so make the consumer park at
// once, and a stream keeps it spinning. Spinning before a park that is long
// anyway costs more than the CPU: the thread the wake-up then goes to is
// the one that just spun, and the kernel wakes callers onto its CPU, where
// they wait for the spin to end (measured, one call every 200 µs: round
// trip median 55 µs with a fixed 50 µs spin, 3.5 µs without; wake-up 9.5
// against 2 µs).
//
// The pauses spin on the clock rather than yield: with a P idle, each
// runtime.Gosched wakes an idle thread (see tickEvery). With GOMAXPROCS 1
// there is no idle P and nobody else to run the goroutines that are
// waiting, so there the pauses yield.
type spinner struct {
	started bool // window has been set
	parks   int  // parks adapted to so far (up to sporadicAfter)
	long    int  // long parks in a row (up to sporadicAfter)
	since   time.Time
	pause   time.Duration
	window  time.Duration // the current spin window, 0 to spinFor
	yield   bool          // GOMAXPROCS is 1: pause with runtime.Gosched
}

const (
	spinFor      = 50 * time.Microsecond
	spinMin      = 1 * time.Microsecond // the smallest window but 0
	spinMinPause = 200 * time.Nanosecond
	spinMaxPause = 5 * time.Microsecond
)

func (s *spinner) reset() { s.since = time.Time{} }

// wait pauses briefly and reports true, or reports false when it is time to
// park.
func (s *spinner) wait(yieldFirst func() bool) bool {
	now := time.Now()
	if !s.started {
		s.started, s.window = true, spinFor
	}
	first := s.since.IsZero()
	if first {
		s.since, s.pause = now, spinMinPause
		s.yield = runtime.GOMAXPROCS(0) == 1
	}
	if now.Sub(s.since) >= s.window {
		s.since = time.Time{}
		return false
	}
	if first && yieldFirst != nil && yieldFirst() {
		// The handler may have readied goroutines (a channel send): they
		// wait in this P's run queue, so let them run before spinning.
		runtime.Gosched()
	}
	for time.Since(now) < s.pause {
		if s.yield {
			runtime.Gosched()
		}
	}
	s.pause = min(2*s.pause, spinMaxPause)
	return true
}

// sporadic reports whether events come far apart (the last parks were
// long, or there was none yet): see Park for what it decides.
func (s *spinner) sporadic() bool { return s.parks < sporadicAfter || s.long >= sporadicAfter }

// sporadicAfter is how many long parks in a row make a consumer sporadic
// again once it has parked at all: one is not enough, since a stream with
// a hiccup (its producer descheduled) parks long once, and its next
// wake-up on the futex would cost the producer the dearer system call
// (measured: post p99.99 under load 3-29 µs with one, against 0.7-3.9 µs on
// the fd alone).
const sporadicAfter = 2

// parked adapts the window to a park that lasted slept.
func (s *spinner) parked(slept time.Duration) {
	s.parks = min(s.parks+1, sporadicAfter)
	if slept < spinFor {
		s.long = 0
	} else {
		s.long = min(s.long+1, sporadicAfter)
	}
	switch {
	case slept < spinFor:
		s.window = min(max(2*s.window, spinMin), spinFor)
	case s.window > spinMin:
		s.window /= 2
	default:
		s.window = 0
	}
}

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

// othersWait: goroutines wait for a P, and one is free (see schedState).
func (h *Handle) othersWait() bool {
	runnable, free := h.schedState()
	return runnable && free
}
