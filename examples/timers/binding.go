package main

// The binding: a POSIX interval timer whose notifications, on a thread
// glibc creates per expiration (SIGEV_THREAD) or in a signal handler
// (SIGEV_SIGNAL), post each expiration to a foreign.Queue. The C half is
// timers.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#cgo LDFLAGS: -lrt
#include "timers.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// Expiry is one expiration as the notification saw it (tm_expiry in
// timers.h).
type Expiry struct {
	Seq     uint64 // 0, 1, 2, ...: the order the notifications started in
	Overrun int32  // expirations merged into this one
	Tid     int32  // the thread the notification ran on
	AtNs    uint64 // CLOCK_MONOTONIC when it ran
}

// The build fails here if Expiry and tm_expiry differ in size: each array
// length is negative unless they agree. (Every field is naturally aligned,
// so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(Expiry{}) - C.sizeof_tm_expiry]struct{}
	_ [C.sizeof_tm_expiry - unsafe.Sizeof(Expiry{})]struct{}
)

// Kind is how the timer notifies and how the notification reaches Go.
type Kind int

const (
	// ThreadPost: SIGEV_THREAD; the new thread posts to a foreign.Queue.
	ThreadPost Kind = C.TM_THREAD_POST
	// ThreadExport: SIGEV_THREAD; the new thread calls the //export'ed
	// tmExpired (export.go): the baseline.
	ThreadExport Kind = C.TM_THREAD_EXPORT
	// SignalPost: SIGEV_SIGNAL; the signal handler posts to a
	// foreign.Queue. There is no //export counterpart: calling into Go
	// from a signal handler is not allowed.
	SignalPost Kind = C.TM_SIGNAL_POST
)

func (k Kind) String() string {
	switch k {
	case ThreadPost:
		return "thread post"
	case ThreadExport:
		return "thread export"
	case SignalPost:
		return "signal post"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// DefaultSignal is the signal SignalPost uses unless told otherwise:
// SIGRTMIN+4, a real-time signal neither glibc nor the Go runtime uses.
var DefaultSignal = syscall.Signal(C.tm_default_signal())

// Config configures a Timer.
type Config struct {
	Kind     Kind
	Interval time.Duration
	Count    int // expirations to hand over; later ones are ignored

	// Signal is SignalPost's signal; 0 means DefaultSignal. Its handler is
	// replaced while the timer runs and put back by Stop.
	Signal syscall.Signal
	// Capacity is the queue's capacity. 0 means 1024.
	Capacity int
	// Wait bounds how long a notification thread waits for room when the
	// queue is full (ThreadPost); a signal handler cannot wait, so its post
	// to a full queue is lost, and counted. 0 means 5 s.
	Wait time.Duration
	// Timings makes the timer keep the duration of every hand-off.
	Timings bool
}

// Timer is a running POSIX interval timer.
type Timer struct {
	c       *C.tm_timer
	count   uint64
	q       *foreign.Queue[Expiry] // posting kinds
	h       cgo.Handle             // ThreadExport
	handler func(Expiry)
	once    sync.Once
	timings []uint64
}

// Start creates and arms the timer; handler gets each of the first
// cfg.Count expirations. With the posting kinds it runs on the queue's
// goroutine, one call at a time; with ThreadExport, on glibc's
// notification threads, several at once if they overlap.
func Start(cfg Config, handler func(Expiry)) (*Timer, error) {
	if cfg.Interval <= 0 || cfg.Count <= 0 {
		return nil, fmt.Errorf("timers: start: interval %v and count %d must be positive", cfg.Interval, cfg.Count)
	}
	if cfg.Signal == 0 {
		cfg.Signal = DefaultSignal
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 1024
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	t := &Timer{count: uint64(cfg.Count), handler: handler}
	var target uintptr
	switch cfg.Kind {
	case ThreadPost, SignalPost:
		var err error
		t.q, err = foreign.NewQueue(handler, foreign.QueueConfig{Capacity: cfg.Capacity, Name: "timer"})
		if err != nil {
			return nil, fmt.Errorf("timers: start: %w", err)
		}
		target = uintptr(t.q.Token())
	case ThreadExport:
		t.h = cgo.NewHandle(t)
		target = uintptr(t.h)
	default:
		return nil, fmt.Errorf("timers: start: unknown kind %d", cfg.Kind)
	}
	var timings C.uint64_t
	if cfg.Timings {
		timings = C.uint64_t(cfg.Count)
	}
	var errbuf [256]C.char
	var c *C.tm_timer
	if C.tm_start(&c, C.int(cfg.Kind), C.uintptr_t(target), C.int(cfg.Signal), C.uint64_t(cfg.Interval),
		C.uint64_t(cfg.Count), C.int64_t(cfg.Wait), timings, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		if t.q != nil {
			t.q.Close()
		}
		return nil, fmt.Errorf("timers: start: %s", C.GoString(&errbuf[0]))
	}
	t.c = c
	return t, nil
}

// Wait waits until Count notifications have finished handing over, or the
// timeout passes.
func (t *Timer) Wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for t.Stats().Done < t.count {
		if time.Now().After(deadline) {
			return fmt.Errorf("timers: %d of %d expirations handed over within %v", t.Stats().Done, t.count, timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// Stop deletes the timer, puts the signal handler back, and (posting kinds)
// delivers what is still queued. The handler is not called after Stop
// returns, provided Wait returned nil first: a notification still under
// way then finds the count reached and does nothing.
func (t *Timer) Stop() {
	t.once.Do(func() {
		C.tm_stop(t.c)
		if t.q != nil {
			t.q.Close()
		}
		if t.Stats().Done == t.count {
			var p *C.uint64_t
			if n := C.tm_timings(t.c, &p); n > 0 {
				t.timings = append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(p)), int(n))...)
			}
			C.tm_free(t.c)
			// Every notification that claimed a number has finished, and
			// a later one returns before calling Go: the handle can go.
			// (Otherwise it is kept, and so are the samples.)
			if t.h != 0 {
				t.h.Delete()
			}
		}
	})
}

// Stats counts what the notifications did.
type Stats struct {
	Fired   uint64 // notifications that ran, including any after Count
	Done    uint64 // notifications that finished handing over
	Waited  uint64 // posts that found the queue full and waited
	Lost    uint64 // posts refused: counted, not delivered
	LastErr error  // why the last of them was refused

	// Hand-offs during which the thread slept or was switched out while
	// runnable (threads only: a signal handler may not call getrusage).
	Slept, Preempted uint64
	Queue            foreign.Stats
}

// Stats returns the timer's counters.
func (t *Timer) Stats() Stats {
	var st C.tm_stats
	C.tm_stats_get(t.c, &st)
	out := Stats{
		Fired: uint64(st.fired), Done: uint64(st.done), Waited: uint64(st.waited), Lost: uint64(st.lost),
		Slept: uint64(st.slept), Preempted: uint64(st.preempted),
	}
	if st.last_code != 0 {
		out.LastErr = foreign.FromCode(int(st.last_code))
	}
	if t.q != nil {
		out.Queue = t.q.Stats()
	}
	return out
}

// Timings returns the hand-off durations kept (nanoseconds). Valid after
// Stop.
func (t *Timer) Timings() []uint64 { return t.timings }
