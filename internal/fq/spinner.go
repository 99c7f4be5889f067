// spinner.go: the consumer's spin before it parks, and how it adapts.

package fq

import (
	"runtime"
	"time"
)

// SpinReset and SpinWait are the consumer's spin-then-park policy (spinner).
func (h *Handle) SpinReset() { h.spin.reset() }

// SpinWait pauses briefly and reports true, or reports false when it is
// time to park.
func (h *Handle) SpinWait() bool { return h.spin.wait(h.spinStart) }

// spinStart is the look at the scheduler a spin begins with (see spinner
// and schedState): whether to yield now, and whether the pauses must
// yield (GOMAXPROCS is 1). One read of the runtime's counts serves both.
func (h *Handle) spinStart() (yieldNow, yieldPauses bool) {
	runnable, free := h.schedState()
	return runnable && free, h.procs() == 1
}

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
	parks  int // parks adapted to so far (up to sporadicAfter)
	long   int // long parks in a row (up to sporadicAfter)
	since  time.Time
	pause  time.Duration
	window time.Duration // the current spin window, 0 to spinFor; spinFor at first (newSpinner)
	yield  bool          // GOMAXPROCS is 1: pause with runtime.Gosched
}

func newSpinner() spinner { return spinner{window: spinFor} }

const (
	spinFor      = 50 * time.Microsecond
	spinMin      = 1 * time.Microsecond // the smallest window but 0
	spinMinPause = 200 * time.Nanosecond
	spinMaxPause = 5 * time.Microsecond
)

func (s *spinner) reset() { s.since = time.Time{} }

// wait pauses briefly and reports true, or reports false when it is time to
// park. start, if not nil, is asked once a spin begins (see spinStart).
func (s *spinner) wait(start func() (yieldNow, yieldPauses bool)) bool {
	now := time.Now()
	first := s.since.IsZero()
	if first {
		s.since, s.pause = now, spinMinPause
	}
	if now.Sub(s.since) >= s.window {
		s.since = time.Time{}
		return false
	}
	if first && start != nil {
		var yieldNow bool
		yieldNow, s.yield = start()
		if yieldNow {
			// The handler may have readied goroutines (a channel send):
			// they wait in this P's run queue, so let them run first.
			runtime.Gosched()
		}
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
	switch {
	case slept < spinFor:
		s.long = 0
		s.window = min(max(2*s.window, spinMin), spinFor)
	case s.window > spinMin:
		s.long = min(s.long+1, sporadicAfter)
		s.window /= 2
	default:
		s.long = min(s.long+1, sporadicAfter)
		s.window = 0
	}
}
