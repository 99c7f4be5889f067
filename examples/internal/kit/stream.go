package kit

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Stream is one end-to-end run of numbered, checksummed messages through a
// broker or server: the subscriber's handler calls Deliver with each
// payload, and Run publishes them and waits until all have arrived.
type Stream struct {
	Check *Checker
	n     int
	got   atomic.Int64
	all   chan struct{}
	bytes uint64 // of all the payloads, once Run has made them
}

// NewStream returns a stream of n messages.
func NewStream(n int) *Stream {
	return &Stream{Check: NewChecker(n), n: n, all: make(chan struct{})}
}

// Deliver checks a payload that arrived. It is safe to call from any
// thread, one call at a time or not.
func (s *Stream) Deliver(p []byte) {
	s.Check.Payload(p)
	if s.got.Add(1) == int64(s.n) {
		close(s.all)
	}
}

// Bytes returns the total length of the stream's payloads (after Run).
func (s *Stream) Bytes() uint64 { return s.bytes }

// Send says how a stream is sent and how its receiver is doing.
type Send struct {
	MaxPayload int           // payload lengths spread over [HeaderLen, MaxPayload]
	GC         bool          // run under Garbage(2)
	Timeout    time.Duration // for everything to arrive
	// Len, if set, is the length of message seq instead of
	// PayloadLen(seq, MaxPayload): VariedLen, say.
	Len func(seq uint64, max int) int
	// Publish sends one payload; the library may keep p only during the call.
	Publish func(p []byte) error
	// Receiver returns how many messages the library's callback has been
	// called with, and how many of those it could not hand over (counted
	// losses): once they add up to all, nothing more will arrive.
	Receiver func() (callbacks, lost uint64)
}

// Run makes the payloads, then (timed) sends them all and waits for them.
// It returns the time from the first send to the last delivery and the
// number of GC cycles meanwhile.
func (s *Stream) Run(cfg Send) (elapsed time.Duration, gcCycles uint64, err error) {
	// Payloads are made before the clock starts: the figures are about
	// carrying messages, not making them.
	length := cfg.Len
	if length == nil {
		length = PayloadLen
	}
	payloads := make([][]byte, s.n)
	for i := range payloads {
		payloads[i] = Payload(uint64(i), length(uint64(i), cfg.MaxPayload))
		s.bytes += uint64(len(payloads[i]))
	}
	var stopGC func() uint64
	if cfg.GC {
		stopGC = Garbage(2)
	}
	start := time.Now()
	err = s.send(payloads, cfg)
	elapsed = time.Since(start)
	if stopGC != nil {
		gcCycles = stopGC()
	}
	return elapsed, gcCycles, err
}

func (s *Stream) send(payloads [][]byte, cfg Send) error {
	for i, p := range payloads {
		if err := cfg.Publish(p); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	deadline := time.After(cfg.Timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.all:
			return nil
		case <-tick.C:
			if calls, lost := cfg.Receiver(); lost > 0 && calls == uint64(s.n) {
				return nil // the rest is queued or lost; the check counts both
			}
		case <-deadline:
			return fmt.Errorf("timed out after %v: %d of %d arrived", cfg.Timeout, s.got.Load(), s.n)
		}
	}
}
