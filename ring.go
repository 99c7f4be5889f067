package foreign

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The ring protocol is written out in ring.h. This file is the Go half: a
// producer (Post from goroutines, no cgo call) and the single consumer, both
// working on the control block and cells in C memory with sync/atomic. That
// memory is outside the Go heap, so neither the garbage collector nor the cgo
// pointer rules apply to it. Go's atomics are sequentially consistent and act
// on the same words as the C11 atomics in ring.c.

const (
	posBits   = 44
	posMask   = 1<<posBits - 1
	closedBit = 1 << posBits
	genShift  = posBits + 1
	cellHdr   = 8 // the seq word before each message

	parkRunning = 0
	parkParked  = 1
	parkWaking  = 2
	parkDead    = 3
)

// ctl mirrors fq_ctl in ring.h; cgo.go checks the offsets at compile time.
type ctl struct {
	tail      atomic.Uint64
	headCache atomic.Uint64
	_         [64 - 2*8]byte

	ring     atomic.Uintptr
	mask     atomic.Uint64
	cellSize atomic.Uint64
	msgSize  atomic.Uint64
	start    atomic.Uint64
	wakeFd   atomic.Int64
	wakeKind atomic.Int64
	_        [64 - 7*8]byte

	head      atomic.Uint64
	highWater atomic.Uint64
	_         [64 - 2*8]byte

	park atomic.Uint32
	_    [64 - 4]byte

	rejectedFull   atomic.Uint64
	rejectedClosed atomic.Uint64
	wakeups        atomic.Uint64
	readFd         atomic.Int64
	_              [64 - 4*8]byte
}

// diff is a-b as a signed 44-bit number: positions wrap, so they are only
// ever compared through their difference.
func diff(a, b uint64) int64 { return int64((a-b)<<(64-posBits)) >> (64 - posBits) }

// ring is the untyped core of a queue. Its fields are fixed at open; the
// consumer-owned fields are used by one goroutine at a time (see Queue).
type ring struct {
	c        *ctl
	token    Token
	gen      uint64
	cells    unsafe.Pointer
	mask     uint64
	cellSize uintptr
	msgSize  uintptr
	start    uint64
	wake     *os.File // the read end, registered with the runtime poller

	// Consumer-owned.
	head      uint64
	delivered uint64
	spin      spinner

	// Written by the consumer, read by Stats.
	deliveredPub atomic.Uint64
	freed        atomic.Bool

	// raceSync is the address the race-detector annotations synchronise on
	// (race.go); it is never read or written.
	raceSync byte
}

func openRing(msgSize, capacity uintptr, start uint64, wakeKind int) (*ring, error) {
	tok, c, cells, err := cOpen(msgSize, capacity, start, wakeKind)
	if err != nil {
		return nil, err
	}
	r := &ring{
		c:        c,
		token:    tok,
		gen:      c.tail.Load() >> genShift,
		cells:    cells,
		mask:     c.mask.Load(),
		cellSize: uintptr(c.cellSize.Load()),
		msgSize:  uintptr(c.msgSize.Load()),
		start:    c.start.Load(),
		head:     c.head.Load(),
	}
	fd := c.readFd.Load()
	// The fd is non-blocking, so os.NewFile registers it with the poller:
	// a parked consumer holds no OS thread.
	r.wake = os.NewFile(uintptr(fd), "foreign-wake")
	return r, nil
}

// cell returns the cell for position pos.
func (r *ring) cell(pos uint64) unsafe.Pointer {
	return unsafe.Add(r.cells, uintptr(pos&r.mask)*r.cellSize)
}

func cellSeq(cell unsafe.Pointer) *atomic.Uint64 { return (*atomic.Uint64)(cell) }

// claim is the Go producer's half of the claim step in ring.h. On success the
// caller owns the returned cell and must publish it.
func (r *ring) claim() (pos uint64, err error) {
	c := r.c
	for {
		tail := c.tail.Load()
		if tail>>genShift != r.gen {
			return 0, ErrClosed // the block was recycled: we are long closed
		}
		if tail&closedBit != 0 {
			c.rejectedClosed.Add(1)
			return 0, ErrClosed
		}
		pos = tail & posMask
		depth := diff(pos, c.headCache.Load())
		if depth > int64(r.mask) {
			head := c.head.Load() // pairs with the consumer's store of head
			depth = diff(pos, head)
			if depth > int64(r.mask) {
				c.rejectedFull.Add(1)
				return 0, ErrFull
			}
			c.headCache.Store(head)
		}
		if depth < 0 {
			continue // our tail is older than the consumer's head
		}
		if c.tail.CompareAndSwap(tail, tail&^posMask|(pos+1)&posMask) {
			return pos, nil
		}
	}
}

// publish passes ownership of the cell to the consumer and wakes it if it
// is parked. The park load follows the claim's CAS (both sequentially
// consistent): that is the producer's side of the Dekker pair.
func (r *ring) publish(cell unsafe.Pointer, pos uint64) {
	raceRelease(unsafe.Pointer(&r.raceSync))
	cellSeq(cell).Store((pos + 1) & posMask)
	if r.c.park.Load() == parkParked {
		r.wakeConsumer()
	}
}

// wakeConsumer is fq_wake in Go, so a goroutine's Post makes no cgo call.
func (r *ring) wakeConsumer() {
	c := r.c
	if !c.park.CompareAndSwap(parkParked, parkWaking) {
		return
	}
	var b [8]byte
	n := 1
	if c.wakeKind.Load() == int64(wakeEventfd) {
		*(*uint64)(unsafe.Pointer(&b)) = 1
		n = 8
	}
	_, _ = syscall.Write(int(c.wakeFd.Load()), b[:n])
	c.wakeups.Add(1)
	c.park.Store(parkRunning)
}

// ready reports whether the cell at position pos (at or after the consumer's
// head) is published, and returns it. The acquire load pairs with the
// producer's publish.
func (r *ring) ready(pos uint64) (unsafe.Pointer, bool) {
	cell := r.cell(pos)
	return cell, cellSeq(cell).Load() == (pos+1)&posMask
}

// release passes n consumed cells back to the producers.
func (r *ring) release(n int) {
	raceAcquire(unsafe.Pointer(&r.raceSync))
	r.head = (r.head + uint64(n)) & posMask
	r.c.head.Store(r.head)
	r.delivered += uint64(n)
	r.deliveredPub.Store(r.delivered)
}

// noteDepth records the high-water depth. n cells were ready in one batch;
// when the batch was cut short by its buffer the tail says how deep it is.
func (r *ring) noteDepth(n int, full bool) {
	d := uint64(n)
	if full {
		d = uint64(diff(r.c.tail.Load()&posMask, r.head))
	}
	if d > r.c.highWater.Load() {
		r.c.highWater.Store(d) // only the consumer writes it
	}
}

// drained reports whether the queue is closed and every claimed message has
// been consumed.
func (r *ring) drained() bool {
	t := r.c.tail.Load()
	return t&closedBit != 0 && t&posMask == r.head
}

var errWoken = errors.New("woken")

// park sleeps until a producer wakes the consumer, ctx is done, or there is
// reason to look at the ring again. Spurious returns are allowed.
func (r *ring) park(ctx context.Context) error {
	c := r.c
	if !c.park.CompareAndSwap(parkRunning, parkParked) {
		return nil // a wake-up is being written (WAKING): look again
	}
	// The consumer's side of the Dekker pair: store park, then load tail.
	t := c.tail.Load()
	if t&posMask != r.head || t&closedBit != 0 {
		// Work was claimed (perhaps not yet published) or we are closing.
		c.park.CompareAndSwap(parkParked, parkRunning)
		return nil
	}
	err := r.sleep(ctx)
	// A producer has set RUNNING already, unless this was a stale wake-up.
	c.park.CompareAndSwap(parkParked, parkRunning)
	return err
}

// sleep blocks on the wake fd through the runtime poller.
func (r *ring) sleep(ctx context.Context) error {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		stop := context.AfterFunc(ctx, func() { _ = r.wake.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				_ = r.wake.SetReadDeadline(time.Time{})
			}
		}()
	}
	var buf [64]byte
	_, err := r.wake.Read(buf[:])
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

// discard closes the ring, drops what it holds and frees it. Producers
// that claimed a cell before the close are still writing it; the ring is
// freed only after the last of them has published. Consumer only.
func (r *ring) discard() {
	final := cClose(r.c)
	for ; r.head != final; r.head = (r.head + 1) & posMask {
		for {
			if _, ok := r.ready(r.head); ok {
				break
			}
			runtime.Gosched()
		}
	}
	r.c.head.Store(r.head)
	r.free()
}

// free releases the C resources. The ring must be drained.
func (r *ring) free() {
	cFree(r.token) // sets park DEAD before the fd can go away
	_ = r.wake.Close()
}

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
