// park.go: the consumer's spin-then-park policy and its park on the wake fd.

package fq

import (
	"context"
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"
)

// The consumer's side of park and wake (block.h): spin a little when the
// ring runs empty, then park on the wake fd through the runtime poller.

// Park sleeps until a producer wakes the consumer, ctx is done, or there is
// reason to look again: work() reports work the consumer must not sleep
// through. Spurious returns are allowed.
func (h *Handle) Park(ctx context.Context, work func() bool) error {
	c := h.c
	if !c.park.CompareAndSwap(parkRunning, parkParked) {
		return nil // a wake-up is being written (WAKING): look again
	}
	// The consumer's side of the Dekker pair: store park, then look at the
	// words producers change before they load park (tail, sig).
	if work() {
		c.park.CompareAndSwap(parkParked, parkRunning)
		return nil
	}
	err := h.sleep(ctx)
	// A producer has set RUNNING already, unless this was a stale wake-up.
	c.park.CompareAndSwap(parkParked, parkRunning)
	return err
}

// sleep blocks on the wake fd through the runtime poller.
func (h *Handle) sleep(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		stop := context.AfterFunc(ctx, func() { _ = h.wake.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
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
func (h *Handle) SpinWait() bool { return h.spin.wait() }

// spinner is the consumer's spin-then-park policy, in one place. Once the
// ring runs empty the consumer keeps looking for spinFor, pausing longer
// between looks (so it does not pull the cache line producers are writing
// on every few nanoseconds), and then parks. A steady stream of messages
// closer together than spinFor therefore costs producers no system call.
type spinner struct {
	since time.Time
	pause time.Duration
}

const (
	spinFor      = 50 * time.Microsecond
	spinMinPause = 200 * time.Nanosecond
	spinMaxPause = 5 * time.Microsecond
)

func (s *spinner) reset() { s.since = time.Time{} }

// wait pauses briefly and reports true, or reports false when it is time to
// park.
func (s *spinner) wait() bool {
	now := time.Now()
	if s.since.IsZero() {
		s.since, s.pause = now, spinMinPause
	}
	if now.Sub(s.since) >= spinFor {
		s.since = time.Time{}
		return false
	}
	for time.Since(now) < s.pause {
		runtime.Gosched()
	}
	s.pause = min(2*s.pause, spinMaxPause)
	return true
}
