// park.go: the consumer's spin-then-park policy and its park (futex or wake fd).

package fq

import (
	"context"
	"errors"
	"os"
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
// maxFutexParked is the largest number of consumers parked on the futex
// at a time, each holding an OS thread: the OS threads the library adds.
const maxFutexParked = 64

// futexParked counts the consumers parked on the futex.
var futexParked slots

// slots is a count bounded by its takers: futexParked, keepers.
type slots struct{ n atomic.Int32 }

// take takes a slot if fewer than max are taken.
func (s *slots) take(max int) bool {
	if s.n.Add(1) <= int32(max) {
		return true
	}
	s.n.Add(-1)
	return false
}

// give gives back a slot taken.
func (s *slots) give() { s.n.Add(-1) }

func (s *slots) count() int { return int(s.n.Load()) }

// Park sleeps until a producer wakes the consumer, ctx is done, or there is
// reason to look again: work() reports work the consumer must not sleep
// through. Spurious returns are allowed.
func (h *Handle) Park(ctx context.Context, work func() bool) error {
	c := h.c
	state := uint32(parkParked)
	if mode := parkMode.Load(); futexPark.Load() && mode != ParkFd && (mode == ParkFutex || h.spin.sporadic()) {
		if futexParked.take(maxFutexParked) { // else the bound is reached: the fd
			state = parkFutex
			defer futexParked.give()
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
	keep := keepers.take(h.procs() - 1)
	stopKeeping := func() {
		if keep {
			keep = false
			keepers.give()
		}
	}
	defer stopKeeping()
	for c.park.Load() == parkFutex {
		h.sleeps.Add(1)
		if time.Since(start) >= keepFor {
			stopKeeping()
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
var keepers slots

// A consumer that sleeps in C for 10 ms or more loses its P on the
// runtime's next look, whatever its scheduling tick, and then its wake-up
// pays for a P and a wake-up of the runtime's monitor (measured: a call
// every 10.7 ms, an audio period, took 46 µs at p50 against 7.6 µs for the
// C ping-pong). So for the first keepFor of a park it sleeps keepStep at
// a time and comes back to Go in between, which keeps the P (an idle P is
// not taken before 10 ms): a periodic source up to keepFor apart finds
// the consumer with its P. At most GOMAXPROCS-1 consumers keep their P
// this way at a time (keepers); the others, and every consumer after
// keepFor, sleep until woken, so an idle handle costs no CPU. The steps
// cost one short wake-up every keepStep for keepFor after each event.
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
