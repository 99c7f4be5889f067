// handle.go: Handle, the Go side of one control block: open, close, free, counters.

package fq

import (
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Handle is the Go side of one control block: what every kind of handle
// (queue, function, notifier, interrupt, a Loop's ready queue) is built
// on. Its fields are fixed at open, but for the groups marked below.
type Handle struct {
	c        *ctl
	token    uintptr
	server   uintptr // who serves it: its own token, or its Loop's (block.h, "Serving")
	gen      uint64
	cells    unsafe.Pointer
	start    uint64 // the position of the first message
	mask     uint64
	cellSize uintptr
	stamp    uintptr  // 8 if each message carries the time of its post (block.h, "Stamps"), else 0
	wake     *os.File // the read end, registered with the runtime poller; nil on a Loop
	ready    *Handle  // the ready queue of the Loop serving this handle, or nil
	id       uint64   // its id in that Loop

	// Consumer-owned: used by one goroutine at a time.
	head      uint64
	rd        uint64  // a byte ring's read cursor: records before it are read, not yet released
	readN     int     // records read since the last release
	seenSpace uint32  // space_seq when the consumer last relayed it (bytes.go)
	stamps    []int64 // with stamps: those of the messages Take took, or Next's in stamps[0]
	spin      spinner
	yielded   time.Time        // the consumer's last runtime.Gosched before a park (sched.go)
	sched     []metrics.Sample // the runtime's counts of goroutines and Ps (sched.go)

	// Written by the consumer, read by Stats.
	freed       atomic.Bool              // set by Free, under life
	final       atomic.Pointer[Counters] // the block's counters when freed
	posted      atomic.Uint64            // the number of claims when freed
	postedBytes atomic.Uint64            // a byte ring's payload bytes claimed when freed
	sleeps      atomic.Uint64            // the consumer's sleeps on the futex (for the tests)

	// Go producers count their refusals here, not in the block: a block
	// can be reused between a claim's check and its count.
	goFull, goClosed, goTimedOut atomic.Uint64

	// life is held (read) by Go operations that use the block's file
	// descriptors, so that Free cannot close them underneath.
	life sync.RWMutex

	// Go producers waiting for room (post.go).
	goWaiters atomic.Int32
	roomMu    sync.Mutex
	room      chan struct{}

	// raceSync is the address the race-detector annotations synchronise on
	// (race.go); it is never read or written.
	raceSync byte
}

// OpenArgs describe a handle to open (fq_open_args in block.h).
type OpenArgs struct {
	MsgSize, Capacity uintptr // 0, 0 for notifiers and interrupts
	Kind              int     // Kind*
	WithFd            bool    // an interrupt's fd, readable while a signal is pending
	CallArg, CallRet  int     // a function's argument and result sizes
	Workers           int     // a function's worker goroutines
	Bytes             bool    // a byte ring: Capacity in bytes, MsgSize the longest message
	Stamp             bool    // each message carries the time of its post
	Ready             *Handle // the Loop's ready queue, or nil for a consumer of its own
	ID                uint64  // the handle's id in that Loop

	// Test settings: the first position (to test wrap-around) and the
	// portable pipe instead of an eventfd.
	Start uint64
	Pipe  bool
}

// Open opens a handle of any kind: signals have no cells, and a handle on
// a Loop no wake fd of its own.
func Open(a OpenArgs) (*Handle, error) {
	tok, c, cells, err := cOpen(a)
	if err != nil {
		return nil, err
	}
	h := &Handle{
		c:         c,
		token:     tok,
		server:    tok,
		gen:       c.tail.Load() >> genShift,
		cells:     cells,
		start:     c.start.Load(),
		mask:      c.mask.Load(),
		cellSize:  uintptr(c.cellSize.Load()),
		stamp:     uintptr(c.flags.Load()&flagStamp) * stampSize,
		head:      c.head.Load(),
		rd:        c.head.Load(),
		seenSpace: c.spaceSeq.Load(),
		spin:      newSpinner(),
		ready:     a.Ready,
		id:        a.ID,
	}
	if h.stamp != 0 {
		h.stamps = make([]int64, maxStamps)
	}
	if a.Ready != nil {
		h.server = a.Ready.token
	} else {
		// The fd is non-blocking, so os.NewFile registers it with the
		// poller: a consumer parked on it holds no OS thread (park.go).
		h.wake = os.NewFile(uintptr(c.readFd.Load()), "foreign-wake")
	}
	return h, nil
}

// Token is the token C code names the handle by.
func (h *Handle) Token() uintptr { return h.token }

// Block is the control block itself, for a consumer written in C (the
// benchmark's C-only floor).
func (h *Handle) Block() unsafe.Pointer { return unsafe.Pointer(h.c) }

// Capacity is the number of cells of the ring (0 for signals).
func (h *Handle) Capacity() int {
	if h.cells == nil {
		return 0
	}
	return int(h.mask + 1)
}

// Freed reports whether the handle has been torn down.
func (h *Handle) Freed() bool { return h.freed.Load() }

// Close closes the handle to new work, if its block still holds its
// generation, and wakes its consumer (or Loop) and every waiter.
func (h *Handle) Close() {
	cClose(h.token)
	h.roomAppeared()
}

// Kick wakes or schedules the handle's consumer, if it is still current.
func (h *Handle) Kick() { cKick(h.token) }

// ReleaseGo drops the Go side's reference (block.h, "References"); again,
// or on a stale handle, it does nothing.
func (h *Handle) ReleaseGo() { cReleaseGo(h.token) }

// WakeWaiters wakes the producers waiting for room, C and Go: the
// teardown does it for a close by foreign_release, which cannot from a
// signal handler.
func (h *Handle) WakeWaiters() {
	cSpace(h.c)
	h.roomAppeared()
}

// Discard closes the handle, drops what it holds and frees it. Producers
// that claimed a cell before the close are still writing it; the ring is
// freed only after the last of them has published. Consumer only.
func (h *Handle) Discard() {
	final, _ := cClose(h.token)
	if h.Bytes() {
		h.rd = h.head
		for h.rd != final {
			if _, ok := h.Next(); !ok && h.rd != final {
				runtime.Gosched() // claimed, not yet published
			}
		}
		h.Release(false)
	} else {
		for ; h.head != final; h.head = (h.head + 1) & posMask {
			h.awaitPublished(h.head)
		}
		h.c.head.Store(h.head)
	}
	h.Free()
}

// Free releases the C resources. The ring must be drained. The block's
// counters are kept first: the block may be reused as soon as it is freed.
func (h *Handle) Free() {
	final := h.readBlock()
	h.final.Store(&final)
	h.posted.Store(h.Posted())
	h.postedBytes.Store(h.PostedBytes())
	h.life.Lock()
	h.freed.Store(true)
	cFree(h.token) // sets park DEAD before the fd can go away
	h.life.Unlock()
	if h.wake != nil {
		_ = h.wake.Close()
	}
}

// Counters are the counters kept in the control block, where C producers
// update them, with the Go producers' added.
type Counters struct {
	HighWater, RejectedFull, RejectedClosed, Wakeups, TimedOut uint64
}

func (h *Handle) readBlock() Counters {
	c := h.c
	return Counters{c.highWater.Load(), c.rejectedFull.Load(), c.rejectedClosed.Load(),
		c.wakeups.Load(), c.timedOut.Load()}
}

// Counts returns the handle's counters. After Free, producers holding the
// token still count their refused posts in the block until it is reused
// for another handle (a new generation); until then the live values,
// never less than the snapshot, are ours.
func (h *Handle) Counts() Counters {
	b := h.blockCounts()
	b.RejectedFull += h.goFull.Load()
	b.RejectedClosed += h.goClosed.Load()
	b.TimedOut += h.goTimedOut.Load()
	return b
}

func (h *Handle) blockCounts() Counters {
	final := h.final.Load()
	live := h.readBlock()
	if h.c.tail.Load()>>genShift != h.gen {
		if final == nil { // cannot be: a block is reused only after Free
			return Counters{}
		}
		return *final
	}
	if final == nil {
		return live // not freed, so not reused: the block is ours
	}
	return Counters{max(live.HighWater, final.HighWater), max(live.RejectedFull, final.RejectedFull),
		max(live.RejectedClosed, final.RejectedClosed), max(live.Wakeups, final.Wakeups),
		max(live.TimedOut, final.TimedOut)}
}

// Posted is the number of messages accepted: the claims, which the tail
// counts, so it never goes backwards. After Free it is the count at the
// free.
func (h *Handle) Posted() uint64 {
	if h.freed.Load() {
		return h.posted.Load()
	}
	tail := h.c.tail.Load()
	if tail>>genShift != h.gen {
		return h.posted.Load()
	}
	if h.Bytes() {
		return h.c.msgs.Load()
	}
	return uint64(max(diff(tail&posMask, h.start), 0))
}

// PostedBytes is the payload bytes a byte ring accepted (0 for cells).
func (h *Handle) PostedBytes() uint64 {
	if h.freed.Load() {
		return h.postedBytes.Load()
	}
	if h.c.tail.Load()>>genShift != h.gen || !h.Bytes() {
		return h.postedBytes.Load()
	}
	return h.c.bytes.Load()
}

// CountTimeout counts a Go caller that gave up.
func (h *Handle) CountTimeout() { h.goTimedOut.Add(1) }

// CountClosed counts a Go call refused because the handle was closed.
func (h *Handle) CountClosed() { h.goClosed.Add(1) }

// Waiters is the number of C producers waiting for room (for the tests).
func (h *Handle) Waiters() uint32 { return h.c.waiters.Load() }

// Parked reports whether the consumer is parked (for the tests).
func (h *Handle) Parked() bool {
	p := h.c.park.Load()
	return p == parkParked || p == parkFutex
}
