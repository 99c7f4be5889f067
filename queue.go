package foreign

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Token names a queue to C code: pass it to foreign_post. It is a plain
// integer that fits in a void* user-data argument; 0 is never valid. A token
// stays safe to use after its queue is closed: posts then fail with
// FOREIGN_ECLOSED.
type Token uintptr

// Config configures a queue. The zero value is ready to use.
type Config struct {
	// Capacity is how many messages the queue holds before posts fail with
	// ErrFull. It is rounded up to a power of two. Zero means 1024.
	Capacity int

	// Name labels the queue in panic reports.
	Name string

	// OnPanic is called on the consumer goroutine when the handler panics;
	// delivery continues with the next message. Nil logs the panic with
	// slog.Default().
	OnPanic func(*PanicError)

	// Loop, if set, serves the handle on that Loop's goroutine instead of a
	// goroutine of its own (not for pull-mode queues).
	Loop *Loop

	// Finalize, if set, is called once when the handle has been closed —
	// by Close, or by the last foreign_release after Release — and
	// everything accepted has been delivered. It runs on the consumer.
	Finalize func()

	// Repeat makes a Notifier run on every trigger instead of only the
	// first (a single-shot notifier closes itself after it runs).
	Repeat bool

	// Workers is the number of goroutines that run a Func's calls. Above 1,
	// calls run in parallel and complete in no particular order: use it only
	// for calls that are independent of each other. Zero means 1.
	Workers int

	// Test hooks: the first position (to test wrap-around) and the wake-up
	// mechanism (to test the portable pipe fallback on Linux).
	start uint64
	pipe  bool
}

const (
	defaultCapacity = 1024
	maxBatch        = 256
)

// Queue carries messages of type T from any thread to Go. C code posts with
// foreign_post(q.Token(), &msg, sizeof msg); Go code posts with Post. Messages
// are delivered to the handler on one goroutine, in order per producer, each
// exactly once; or, for a queue made without a handler, to Recv.
//
// T must be plain data (see NewQueue). The queue's ring lives in C memory and
// is the only part of it whose size grows with Capacity.
type Queue[T any] struct {
	r       *ring
	handle  func(vs []T, done *int) // runs a batch; *done counts messages consumed, even by a panic
	pull    bool
	name    string
	onPanic func(*PanicError)

	buf      []T // consumer's batch buffer
	progress int // consumer's count of the batch handled (handleSafely)

	finalize  func()
	mu        sync.Mutex // serialises Recv calls in pull mode
	closeOnce sync.Once
	done      chan struct{} // closed after the last delivery and the free
	consumer  atomic.Uint64 // goroutine id of the handler goroutine
	panics    atomic.Uint64
}

// NewQueue returns a queue whose messages are delivered to handler, one at a
// time, on a goroutine of its own. With a nil handler the queue is in pull
// mode: read it with Recv.
//
// T must be plain data: booleans, numbers, and arrays and structs of them.
// A T that holds pointers, strings, slices, maps, interfaces, channels or
// funcs is refused with an error, because messages are copied through C
// memory that the garbage collector does not see.
func NewQueue[T any](handler func(T), cfg Config) (*Queue[T], error) {
	q, err := newQueue[T](cfg)
	if err != nil {
		return nil, err
	}
	if handler == nil {
		if cfg.Loop != nil {
			q.r.discard()
			return nil, fmt.Errorf("foreign: a pull-mode queue cannot be on a Loop")
		}
		q.pull = true
		q.register()
		return q, nil
	}
	q.handle = func(vs []T, done *int) {
		for i := range vs {
			*done = i + 1 // counted before the call: a panic consumes it
			handler(vs[i])
		}
	}
	q.start()
	return q, nil
}

// NewBatchQueue is NewQueue for a handler that takes every message that is
// ready at once (up to 256). The slice is reused: it is valid only until the
// handler returns. A panic ends the handler's batch; delivery continues with
// the next one.
func NewBatchQueue[T any](handler func([]T), cfg Config) (*Queue[T], error) {
	if handler == nil {
		return nil, fmt.Errorf("foreign: NewBatchQueue: nil handler")
	}
	q, err := newQueue[T](cfg)
	if err != nil {
		return nil, err
	}
	q.handle = func(vs []T, done *int) { *done = len(vs); handler(vs) }
	q.start()
	return q, nil
}

func newQueue[T any](cfg Config) (*Queue[T], error) { return newQueueCall[T](cfg, 0, -1) }

// newQueueCall makes the queue behind a Func when callRet >= 0.
func newQueueCall[T any](cfg Config, callArg, callRet int) (*Queue[T], error) {
	var zero T
	if err := checkPlain(reflect.TypeOf(&zero).Elem()); err != nil {
		return nil, err
	}
	size := unsafe.Sizeof(zero)
	if size == 0 || size > uintptr(maxMsgSize) {
		return nil, fmt.Errorf("foreign: message size %d out of range [1, %d]", size, maxMsgSize)
	}
	capacity := cfg.Capacity
	switch {
	case capacity < 0 || capacity > maxCapacity:
		return nil, fmt.Errorf("foreign: capacity %d out of range [0, %d]", capacity, maxCapacity)
	case capacity == 0:
		capacity = defaultCapacity
	}
	capacity = 1 << bitsFor(capacity)
	kind := wakeEventfd
	if cfg.pipe {
		kind = wakePipe
	}
	hk := kindQueue
	if callRet >= 0 {
		hk = kindFunc
	}
	r, err := openRing(openArgs{msgSize: size, capacity: uintptr(capacity), start: cfg.start, wakeKind: kind,
		kind: hk, callArg: callArg, callRet: callRet, loop: cfg.Loop})
	if err != nil {
		return nil, fmt.Errorf("foreign: new queue: %w", err)
	}
	q := &Queue[T]{
		r:        r,
		name:     cfg.Name,
		onPanic:  cfg.OnPanic,
		finalize: cfg.Finalize,
		buf:      make([]T, min(capacity, maxBatch)),
		done:     make(chan struct{}),
	}
	if q.onPanic == nil {
		q.onPanic = logPanic
	}
	return q, nil
}

// bitsFor returns the smallest b with 1<<b >= n.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

func logPanic(e *PanicError) {
	slog.Default().Error("foreign: handler panicked", "queue", e.Queue, "panic", e.Value, "stack", string(e.Stack))
}

func (q *Queue[T]) start() {
	q.register()
	startConsumer(q, &q.consumer)
}

func (q *Queue[T]) core() *ring   { return q.r }
func (q *Queue[T]) work() bool    { return q.r.claimed() }
func (q *Queue[T]) drained() bool { return q.r.drained() }

func (q *Queue[T]) serve() bool {
	n := q.take(q.buf)
	if n > 0 {
		q.deliver(q.buf[:n])
	}
	return n > 0
}

func (q *Queue[T]) finish() {
	clear(q.buf)
	q.teardown()
}

// register frees the C side if the queue becomes unreachable without being
// closed and drained (a pull-mode queue whose reader went away). A handler
// queue is reachable from its goroutine until it is drained, so for it this
// never fires early.
func (q *Queue[T]) register() {
	runtime.AddCleanup(q, func(r *ring) {
		if !r.freed.Load() {
			r.discard()
		}
	}, q.r)
}

// Token returns the token C code passes to foreign_post.
func (q *Queue[T]) Token() Token { return q.r.token }

// Post copies v into the queue without blocking and without a cgo call. It
// returns ErrFull if the queue holds Capacity messages and ErrClosed after
// Close. A nil return means v will be delivered.
func (q *Queue[T]) Post(v T) error {
	pos, err := q.r.claim(false, true)
	if err != nil {
		return err
	}
	q.put(pos, v)
	return nil
}

// PostWait is Post that waits while the queue is full, until ctx is done
// (then it returns ctx.Err()). Close wakes it with ErrClosed.
func (q *Queue[T]) PostWait(ctx context.Context, v T) error {
	pos, err := q.r.postWait(ctx)
	if err != nil {
		return err
	}
	q.put(pos, v)
	return nil
}

// put writes v into the claimed cell at pos and publishes it.
func (q *Queue[T]) put(pos uint64, v T) {
	cell := q.r.cell(pos)
	*(*T)(unsafe.Add(cell, cellHdr)) = v
	q.r.publish(cell, pos)
}

// take copies up to len(buf) ready messages out of the ring and passes their
// cells back to producers. Consumer only.
func (q *Queue[T]) take(buf []T) int {
	r := q.r
	n := 0
	for n < len(buf) {
		cell, ok := r.ready(r.head + uint64(n))
		if !ok {
			break
		}
		buf[n] = *(*T)(unsafe.Add(cell, cellHdr))
		n++
	}
	if n > 0 {
		r.noteDepth(n, n == len(buf))
		r.release(n)
	}
	return n
}

// deliver runs the handler on a batch, recovering from panics so that
// delivery continues.
func (q *Queue[T]) deliver(vs []T) {
	for len(vs) > 0 {
		// Always advance: a message is never handed to the handler twice.
		vs = vs[max(q.handleSafely(vs), 1):]
	}
}

// handleSafely returns how many messages of vs were consumed, counting the
// one whose handler panicked. One deferred recover covers the whole batch.
// The count lives in the queue (q.progress), not in a local: a local's
// address passed to the handle func would escape and cost an allocation
// per batch.
func (q *Queue[T]) handleSafely(vs []T) (n int) {
	ok := false
	defer func() {
		if ok {
			return
		}
		n = q.progress // includes the message whose handler panicked
		q.panics.Add(1)
		reportPanic(q.name, q.onPanic, recover())
	}()
	q.progress = 0
	q.handle(vs, &q.progress)
	ok = true
	return q.progress
}

// Close stops accepting messages: posts after it fail with ErrClosed (C:
// FOREIGN_ECLOSED). Every message accepted before Close is still delivered;
// when Close returns, the handler has handled the last of them and will not
// be called again. Called from the handler itself, Close does not wait (it
// cannot); delivery of what remains continues after the handler returns.
//
// In pull mode Close does not wait: Recv returns the remaining messages,
// then ErrClosed. Close is idempotent and safe to call concurrently.
func (q *Queue[T]) Close() error {
	q.closeOnce.Do(func() {
		cClose(q.r.c) // wakes the consumer (or its Loop) and C waiters
		q.r.roomAppeared()
	})
	if q.r.loop != nil {
		return nil // the Loop delivers the rest when it runs
	}
	if q.pull {
		if q.mu.TryLock() {
			// Free now if nothing is left for Recv to return.
			if !q.r.freed.Load() && q.r.drained() {
				q.teardown()
			}
			q.mu.Unlock()
		}
		return nil
	}
	if goid() == q.consumer.Load() {
		return nil
	}
	<-q.done
	return nil
}

// teardown frees the C side and runs the finalizer. Consumer only.
func (q *Queue[T]) teardown() {
	// Closed by a foreign_release, which cannot wake waiters from a
	// signal handler: wake them here.
	cSpace(q.r.c)
	q.r.roomAppeared()
	q.r.free()
	close(q.done)
	if q.finalize != nil {
		q.finalize()
	}
}

// Release drops the Go side's reference to the queue (see
// foreign_acquire). The queue stays open while C code holds references;
// the last foreign_release closes it as Close would. Use Release instead of
// Close when C code decides when the queue is done.
func (q *Queue[T]) Release() error { return q.r.dropRef() }

// Stats returns the queue's counters.
func (q *Queue[T]) Stats() Stats {
	r, c := q.r, q.r.c
	delivered := r.delivered.Load()
	var depth uint64
	if !r.freed.Load() { // a freed queue was drained
		depth = uint64(max(diff(c.tail.Load()&posMask, c.head.Load()), 0))
	}
	b := r.counts()
	return Stats{
		Capacity:       int(r.mask + 1),
		Posted:         delivered + depth,
		Delivered:      delivered,
		Depth:          depth,
		HighWater:      b.highWater,
		RejectedFull:   b.rejectedFull,
		RejectedClosed: b.rejectedClosed,
		Wakeups:        b.wakeups,
		Panics:         q.panics.Load(),
		TimedOut:       b.timedOut,
	}
}

// Recv returns the next message, waiting for one until ctx is done. After
// Close it returns the messages accepted before Close, then ErrClosed. It is
// for queues made without a handler; several goroutines may call it, and
// each message goes to one of them.
func (q *Queue[T]) Recv(ctx context.Context) (T, error) {
	var one [1]T
	_, err := q.RecvBatch(ctx, one[:])
	return one[0], err
}

// RecvBatch waits until at least one message is ready, or ctx is done, and
// copies up to len(buf) messages into buf. It allocates nothing.
func (q *Queue[T]) RecvBatch(ctx context.Context, buf []T) (int, error) {
	if !q.pull {
		return 0, fmt.Errorf("foreign: Recv on a queue with a handler: %w", ErrInvalid)
	}
	if len(buf) == 0 {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.r
	for {
		if r.freed.Load() {
			return 0, ErrClosed
		}
		if n := q.take(buf); n > 0 {
			r.spin.reset()
			return n, nil
		}
		if r.spin.wait() {
			continue // see consume: the tail is read only after spinning
		}
		if r.drained() {
			q.teardown()
			return 0, ErrClosed
		}
		if err := r.park(ctx, r.claimed); err != nil {
			return 0, err
		}
	}
}

// goid returns the current goroutine's id, parsed from its stack header
// ("goroutine 18 [running]:"). It is only used by Close, to tell a call from
// the handler (which must not wait for itself) from any other.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	id, _ := strconv.ParseUint(string(b[:i]), 10, 64)
	return id
}
