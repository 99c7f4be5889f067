package foreign

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
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
	wakeKind atomic.Uint32
	kind     atomic.Uint32
	callRet  atomic.Uint64

	head      atomic.Uint64
	highWater atomic.Uint64
	_         [64 - 2*8]byte

	park        atomic.Uint32
	scheduled   atomic.Uint32
	loopToken   atomic.Uint64
	handleID    atomic.Uint64
	sig         atomic.Uint64
	sigFd       atomic.Int64
	sigWfd      atomic.Int64
	sigInflight atomic.Int64
	_           [64 - 7*8]byte

	rejectedFull   atomic.Uint64
	rejectedClosed atomic.Uint64
	wakeups        atomic.Uint64
	readFd         atomic.Int64
	timedOut       atomic.Uint64
	callArg        atomic.Uint64
	workers        atomic.Uint32
	nested         atomic.Uint32
	spaceSeq       atomic.Uint32
	waiters        atomic.Uint32

	refs atomic.Uint64
	_    [64 - 8]byte
}

// The sig word of notifiers and interrupts: [gen][closed][pending][value]
// (ring.h, "Signals").
const (
	sigPending = 1 << 32
	sigClosed  = 1 << 33
	sigValue   = 1<<32 - 1
)

// diff is a-b as a signed 44-bit number: positions wrap, so they are only
// ever compared through their difference.
func diff(a, b uint64) int64 { return int64((a-b)<<(64-posBits)) >> (64 - posBits) }

// ring is the untyped core of a queue. Its fields are fixed at open; the
// consumer-owned fields are used by one goroutine at a time (see Queue).
type ring struct {
	c        *ctl
	token    Token
	server   Token // who serves it: its own token, or its Loop's (ring.h, "Serving")
	gen      uint64
	cells    unsafe.Pointer
	mask     uint64
	cellSize uintptr
	msgSize  uintptr
	start    uint64
	wake     *os.File // the read end, registered with the runtime poller; nil on a Loop
	loop     *Loop    // the Loop serving this handle, or nil
	id       uint64   // its id in the Loop

	// Consumer-owned.
	head uint64
	spin spinner

	// Written by the consumer, read by Stats.
	delivered atomic.Uint64
	freed     atomic.Bool                 // set by free, under life
	final     atomic.Pointer[blockCounts] // the block's counters when freed

	// Go producers count their refusals here, not in the block: a block
	// can be reused between a claim's check and its count.
	goFull, goClosed, goTimedOut atomic.Uint64

	// life is held (read) by Go operations that use the block's file
	// descriptors, so that free cannot close them underneath.
	life sync.RWMutex

	goWaiters atomic.Int32
	roomMu    sync.Mutex
	room      chan struct{}

	// raceSync is the address the race-detector annotations synchronise on
	// (race.go); it is never read or written.
	raceSync byte
}

// openArgs describe a handle to open (fq_open_args in ring.h).
type openArgs struct {
	msgSize, capacity uintptr
	start             uint64
	wakeKind, kind    int
	withFd            bool
	callArg, callRet  int
	workers           int
	loop              *Loop
}

// openRing opens a handle of any kind: signals have no cells, and a handle
// on a Loop no wake fd of its own.
func openRing(a openArgs) (*ring, error) {
	var id uint64
	if a.loop != nil {
		var err error
		if id, err = a.loop.reserve(); err != nil {
			return nil, err
		}
	}
	tok, c, cells, err := cOpen(a, id)
	if err != nil {
		if a.loop != nil {
			a.loop.unreserve()
		}
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
	r.loop, r.id, r.server = a.loop, id, tok
	if a.loop != nil {
		r.server = a.loop.Token()
	}
	if a.loop == nil {
		fd := c.readFd.Load()
		// The fd is non-blocking, so os.NewFile registers it with the
		// poller: a parked consumer holds no OS thread.
		r.wake = os.NewFile(uintptr(fd), "foreign-wake")
	}
	return r, nil
}

// cell returns the cell for position pos.
func (r *ring) cell(pos uint64) unsafe.Pointer {
	return unsafe.Add(r.cells, uintptr(pos&r.mask)*r.cellSize)
}

func cellSeq(cell unsafe.Pointer) *atomic.Uint64 { return (*atomic.Uint64)(cell) }

// claim is the Go producer's half of the claim step in ring.h (claim in
// ring.c). On success the caller owns the returned cell and must publish
// it. A waiter's retry passes fresh to read the consumer's head rather than
// the cache; count says whether a refusal is counted in the stats.
func (r *ring) claim(fresh, count bool) (pos uint64, err error) {
	c := r.c
	for {
		tail := c.tail.Load()
		if tail>>genShift != r.gen {
			return 0, ErrClosed // the block was recycled: we are long closed
		}
		if tail&closedBit != 0 {
			if count {
				r.goClosed.Add(1)
			}
			return 0, ErrClosed
		}
		pos = tail & posMask
		depth := int64(r.mask) + 1
		if hc := c.headCache.Load(); !fresh && hc>>genShift == r.gen {
			depth = diff(pos, hc&posMask)
		}
		if depth > int64(r.mask) {
			head := c.head.Load() // pairs with the consumer's store of head
			depth = diff(pos, head)
			if depth > int64(r.mask) {
				if count {
					r.goFull.Add(1)
				}
				return 0, ErrFull
			}
			c.headCache.Store(r.gen<<genShift | head)
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
	r.notify()
}

// notify is fq_notify in Go: wake the parked consumer, or put the handle on
// its Loop's ready queue if it is not there yet (ring.h, "Loops").
func (r *ring) notify() {
	c := r.c
	if r.loop == nil {
		if c.park.Load() == parkParked {
			r.wakeConsumer()
		}
		return
	}
	if c.scheduled.Load() == 0 && c.scheduled.CompareAndSwap(0, 1) {
		_ = r.loop.ready.Post(r.id) // never full: each handle is queued at most once
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
	if c.wakeKind.Load() == uint32(wakeEventfd) {
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

// release passes n consumed cells back to the producers and wakes any
// that wait for room. The store of head and the loads of the waiter counts
// are the consumer's side of the waiting Dekker pair (ring.h, "Waiting").
func (r *ring) release(n int) {
	raceAcquire(unsafe.Pointer(&r.raceSync))
	r.head = (r.head + uint64(n)) & posMask
	r.c.head.Store(r.head)
	r.delivered.Add(uint64(n))
	if r.c.waiters.Load() != 0 {
		cSpace(r.c)
	}
	if r.goWaiters.Load() != 0 {
		r.roomAppeared()
	}
}

// Go producers waiting for room (PostWait) sleep on a channel that the
// consumer closes and replaces when it makes room, and Close closes too.
// They count themselves in goWaiters first, then retry, so a release
// between their failed claim and their sleep is not missed.
func (r *ring) roomChan() <-chan struct{} {
	r.roomMu.Lock()
	defer r.roomMu.Unlock()
	if r.room == nil {
		r.room = make(chan struct{})
	}
	return r.room
}

func (r *ring) roomAppeared() {
	r.roomMu.Lock()
	if r.room != nil {
		close(r.room)
		r.room = nil
	}
	r.roomMu.Unlock()
}

// postWait claims a cell, waiting while the ring is full until ctx is done.
func (r *ring) postWait(ctx context.Context) (uint64, error) {
	pos, err := r.claim(false, false)
	for err == ErrFull {
		// The consumer cannot make room while we wait on its own thread.
		if r.c.workers.Load() <= 1 && r.servedHere() {
			return 0, ErrDeadlock
		}
		r.goWaiters.Add(1)
		room := r.roomChan() // before the retry: a release after it closes room
		pos, err = r.claim(true, false)
		if err == ErrFull {
			select {
			case <-room:
			case <-ctx.Done():
				err = ctx.Err()
				r.goTimedOut.Add(1)
			}
		}
		r.goWaiters.Add(-1)
	}
	if err == ErrClosed {
		r.goClosed.Add(1)
	}
	return pos, err
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

// claimed reports whether there is anything for the consumer: claimed
// cells (perhaps not yet published), or a close to act on.
func (r *ring) claimed() bool {
	t := r.c.tail.Load()
	return t&posMask != r.head || t&closedBit != 0
}

// park sleeps until a producer wakes the consumer, ctx is done, or there is
// reason to look again: work() reports work the consumer must not sleep
// through. Spurious returns are allowed.
func (r *ring) park(ctx context.Context, work func() bool) error {
	c := r.c
	if !c.park.CompareAndSwap(parkRunning, parkParked) {
		return nil // a wake-up is being written (WAKING): look again
	}
	// The consumer's side of the Dekker pair: store park, then look at the
	// words producers change before they load park (tail, sig).
	if work() {
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
	final, _ := cClose(r.token)
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

// free releases the C resources. The ring must be drained. The block's
// counters are kept first: the block may be reused as soon as it is freed.
func (r *ring) free() {
	final := r.readBlock()
	r.final.Store(&final)
	r.life.Lock()
	r.freed.Store(true)
	cFree(r.token) // sets park DEAD before the fd can go away
	r.life.Unlock()
	if r.wake != nil {
		_ = r.wake.Close()
	}
}

// blockCounts are the counters kept in the control block, where C
// producers update them.
type blockCounts struct {
	highWater, rejectedFull, rejectedClosed, wakeups, timedOut uint64
}

func (r *ring) readBlock() blockCounts {
	c := r.c
	return blockCounts{c.highWater.Load(), c.rejectedFull.Load(), c.rejectedClosed.Load(),
		c.wakeups.Load(), c.timedOut.Load()}
}

// counts returns the block's counters, with the Go producers' added.
// After free, producers holding the token still count their refused posts
// in the block until it is reused for another handle (a new generation);
// until then the live values, never less than the snapshot, are ours.
func (r *ring) counts() blockCounts {
	b := r.blockCounts()
	b.rejectedFull += r.goFull.Load()
	b.rejectedClosed += r.goClosed.Load()
	b.timedOut += r.goTimedOut.Load()
	return b
}

func (r *ring) blockCounts() blockCounts {
	final := r.final.Load()
	live := r.readBlock()
	if r.c.tail.Load()>>genShift != r.gen {
		if final == nil { // cannot be: a block is reused only after free
			return blockCounts{}
		}
		return *final
	}
	if final == nil {
		return live // not freed, so not reused: the block is ours
	}
	return blockCounts{max(live.highWater, final.highWater), max(live.rejectedFull, final.rejectedFull),
		max(live.rejectedClosed, final.rejectedClosed), max(live.wakeups, final.wakeups),
		max(live.timedOut, final.timedOut)}
}

// depth is the number of accepted messages not yet consumed; 0 once freed.
func (r *ring) depth() uint64 {
	tail, head := r.c.tail.Load(), r.c.head.Load()
	if r.freed.Load() || tail>>genShift != r.gen {
		return 0 // a freed queue was drained
	}
	return uint64(max(diff(tail&posMask, head), 0))
}

// enter marks the calling goroutine's thread as serving this handle, for
// the self-deadlock checks (ring.h, "Serving"); leave undoes it. The
// goroutine stays locked to its thread in between.
func (r *ring) enter() uint64 {
	runtime.LockOSThread()
	return cServeEnter(r.server)
}

func (r *ring) leave(old uint64) {
	cServeLeave(old)
	runtime.UnlockOSThread()
}

// servedHere reports whether the caller runs on the thread serving this
// handle (in its handler, or in another handler of its Loop), where
// waiting for the handle would wait for itself.
func (r *ring) servedHere() bool { return cServing() == r.server }

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
