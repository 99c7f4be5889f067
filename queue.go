// queue.go: Queue, typed messages from any thread to a Go handler.

package foreign

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/foreigncall/foreign/internal/fq"
)

// Token names a handle to C code. It is a plain integer that fits in a
// void* user-data argument; 0 is never valid. A token stays safe to use
// after its handle is closed: C calls then fail with FOREIGN_ECLOSED.
type Token uintptr

// QueueConfig configures a [Queue]. The zero value is ready to use.
type QueueConfig struct {
	// Capacity is how many messages the queue holds before posts fail with
	// ErrFull. It is rounded up to a power of two. Zero means 1024.
	Capacity int

	// Name labels the queue in panic reports.
	Name string

	// OnPanic is called on the consumer when the handler panics; delivery
	// continues with the next message. Nil logs the panic with
	// slog.Default().
	OnPanic func(*PanicError)

	// Loop, if set, serves the queue on that Loop's goroutine instead of a
	// goroutine of its own.
	Loop *Loop

	// OnClose, if set, is called once on the consumer when the queue has
	// been closed — by Close, or by the last foreign_release after Release
	// — and everything it accepted has been delivered. A panic in it is
	// recovered and reported as a handler's is.
	OnClose func()

	// Latency, if set, records how long each message waits, from its
	// post to the start of its handler, and how long the handler takes, in
	// histograms read with Latency. Off by default: it costs each post one
	// read of the clock (no system call) and 8 bytes of ring.
	Latency bool
}

const (
	defaultCapacity = 1024
	maxBatch        = 256
)

// Queue carries messages of type T from any thread to a Go handler. C code
// posts with foreign_post(q.Token(), &msg, sizeof msg); Go code posts with
// Post. Messages are delivered to the handler on one goroutine (its own,
// or its Loop's), in order per producer, each exactly once.
//
// T must be plain data (see NewQueue). The queue's ring lives in C memory
// and is the only part of it whose size grows with Capacity. A
// Queue[struct{}] counts posts: each post, with length 0, is one handler
// call.
type Queue[T any] struct {
	core
	handle func(vs []T, done *int) // runs a batch; *done counts messages consumed, even by a panic
	drain  func()                  // run after the last delivery, before the teardown (Func's workers)
	// take fills buf with what is ready and returns how many; nil copies
	// cells out of the ring (fq.Take). delivered, if set, runs after each
	// batch has been handled (a byte ring releases its records there).
	take      func(buf []T) int
	delivered func(full bool)

	buf      []T           // consumer's batch buffer
	rest     []T           // the part of buf not yet handed to the handler
	progress int           // consumer's count of the batch handled (handleSafely)
	batchN   int           // the size of the batch q.rest is the end of
	handled  atomic.Uint64 // messages handed to the handler (Stats.Delivered)

	handledBytes atomic.Uint64 // a byte ring's payload bytes delivered
}

// NewQueue returns a queue whose messages are delivered to handler, one at a
// time, on a goroutine of its own (or cfg.Loop's). For a queue that Go code
// reads itself, see NewPullQueue.
//
// T must be plain data: booleans, numbers, and arrays and structs of them.
// A T that holds pointers, strings, slices, maps, interfaces, channels or
// funcs is refused with an error, because messages are copied through C
// memory that the garbage collector does not see.
func NewQueue[T any](handler func(T), cfg QueueConfig) (*Queue[T], error) {
	if handler == nil {
		return nil, fmt.Errorf("foreign: NewQueue: nil handler (for pull mode, NewPullQueue): %w", ErrInvalid)
	}
	q, err := openQueue[T](cfg, 0, -1, 1)
	if err != nil {
		return nil, err
	}
	q.handle = oneAtATime(q, handler)
	startConsumer(q)
	return q, nil
}

// oneAtATime is the batch func of a handler of one message at a time,
// timed when the queue records latencies.
func oneAtATime[T any](q *Queue[T], handler func(T)) func(vs []T, done *int) {
	return func(vs []T, done *int) {
		if q.lat != nil {
			stamps := q.stamps(len(vs))
			for i := range vs {
				*done = i + 1
				var t int64
				if i < len(stamps) {
					t = q.lat.start(stamps[i])
				}
				handler(vs[i])
				if i < len(stamps) {
					q.lat.done(t)
				}
			}
			return
		}
		for i := range vs {
			*done = i + 1 // counted before the call: a panic consumes it
			handler(vs[i])
		}
	}
}

// wholeBatch is the batch func of a batch handler, timed per batch when
// the queue records latencies.
func wholeBatch[T any](q *Queue[T], handler func([]T)) func(vs []T, done *int) {
	return func(vs []T, done *int) {
		*done = len(vs)
		if q.lat != nil {
			t := q.lat.batch(q.stamps(len(vs)))
			handler(vs)
			q.lat.done(t)
			return
		}
		handler(vs)
	}
}

// stamps are the stamps of the last n messages of the batch (latency.go).
func (q *Queue[T]) stamps(n int) []int64 { return stampsOf(q.h, q.batchN, n) }

// NewBatchQueue is NewQueue for a handler that takes every message that is
// ready at once (up to 256). The slice is reused: it is valid only until the
// handler returns. A panic ends the handler's batch; delivery continues with
// the next one.
func NewBatchQueue[T any](handler func([]T), cfg QueueConfig) (*Queue[T], error) {
	if handler == nil {
		return nil, fmt.Errorf("foreign: NewBatchQueue: nil handler: %w", ErrInvalid)
	}
	q, err := openQueue[T](cfg, 0, -1, 1)
	if err != nil {
		return nil, err
	}
	q.handle = wholeBatch(q, handler)
	startConsumer(q)
	return q, nil
}

// openQueue opens the ring of a queue, or of a Func when callRet >= 0.
func openQueue[T any](cfg QueueConfig, callArg, callRet, workers int) (*Queue[T], error) {
	o, err := openTyped[T](cfg.Capacity, cfg.Loop, callArg, callRet, workers, cfg.Latency)
	if err != nil {
		return nil, err
	}
	q := &Queue[T]{buf: make([]T, min(o.h.Capacity(), maxBatch))}
	q.init(o, cfg.Name, cfg.OnPanic, cfg.OnClose)
	q.region = regionQueue
	return q, nil
}

// openTyped checks T and the capacity (rounded up to a power of two) and
// opens a ring for messages of type T.
func openTyped[T any](capacity int, loop *Loop, callArg, callRet, workers int, stamp bool) (opened, error) {
	var zero T
	if err := checkPlain(reflect.TypeOf(&zero).Elem()); err != nil {
		return opened{}, err
	}
	size := unsafe.Sizeof(zero)
	if size > uintptr(fq.MaxMsgSize) {
		return opened{}, fmt.Errorf("foreign: message size %d over %d: %w", size, fq.MaxMsgSize, ErrInvalid)
	}
	switch {
	case capacity < 0 || capacity > fq.MaxCapacity:
		return opened{}, fmt.Errorf("foreign: capacity %d out of range [0, %d]: %w", capacity, fq.MaxCapacity, ErrInvalid)
	case capacity == 0:
		// 1024, or fewer for large messages: a default ring of at most
		// 64 MiB (and at least 16 cells).
		capacity = min(defaultCapacity, max(16, (64<<20)/int(size+8)))
	}
	capacity = 1 << bitsFor(capacity)
	if uint64(capacity)*uint64(size+16) > uint64(fq.MaxRing) {
		return opened{}, fmt.Errorf("foreign: capacity %d of %d-byte messages over %d bytes: %w", capacity, size, fq.MaxRing, ErrInvalid)
	}
	kind := fq.KindQueue
	if callRet >= 0 {
		kind = fq.KindFunc
	}
	o, err := open(fq.OpenArgs{MsgSize: size, Capacity: uintptr(capacity), Kind: kind,
		CallArg: callArg, CallRet: callRet, Workers: workers, Stamp: stamp}, loop)
	if err != nil {
		return opened{}, fmt.Errorf("foreign: new queue: %w", err)
	}
	return o, nil
}

// bitsFor returns the smallest b with 1<<b >= n.
func bitsFor(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

func (q *Queue[T]) work() bool    { return q.h.Claimed() }
func (q *Queue[T]) drained() bool { return q.h.Drained() }

func (q *Queue[T]) serve() bool {
	if len(q.rest) == 0 { // else a consumer ended by runtime.Goexit left some
		var n int
		if q.take != nil {
			n = q.take(q.buf)
		} else {
			n = fq.Take(q.h, q.buf)
		}
		if n == 0 {
			return false
		}
		q.rest = q.buf[:n]
		q.batchN = n
	}
	q.deliver()
	if q.delivered != nil {
		q.delivered(q.h.ReadN() == len(q.buf))
	}
	return true
}

func (q *Queue[T]) finish() {
	clear(q.buf)
	q.rest = nil
	if q.drain != nil {
		q.drain()
	}
	q.teardown()
}

// Post copies v into the queue without blocking and without a cgo call. It
// returns ErrFull if the queue holds Capacity messages and ErrClosed after
// Close. A nil return means v will be delivered.
func (q *Queue[T]) Post(v T) error { return fq.Post(q.h, v) }

// PostWait is Post that waits while the queue is full, until ctx is done
// (then it returns ctx.Err()). Close wakes it with ErrClosed. Called from
// the queue's own handler (or another handler of its Loop) into a full
// queue it returns ErrDeadlock at once: the handler would wait for itself.
func (q *Queue[T]) PostWait(ctx context.Context, v T) error { return fq.PostWait(q.h, ctx, v) }

// deliver runs the handler on q.rest, its thread marked as serving the
// queue, recovering from panics so that delivery continues.
func (q *Queue[T]) deliver() {
	old := q.h.Enter()
	defer q.h.Leave(old)
	defer endRegion(startRegion(q.region, q.name))
	for len(q.rest) > 0 {
		q.handleSafely()
	}
}

// handleSafely hands q.rest to the handler and drops from it what was
// consumed, counting the message whose handler panicked: a message is
// never handed to the handler twice. One deferred recover covers the
// whole batch. The count lives in the queue (q.progress), not in a local:
// a local's address passed to the handle func would escape and cost an
// allocation per batch. A handler that calls runtime.Goexit (as
// t.FailNow does) ends the consumer goroutine; it is counted and
// reported as a panic, q.rest keeps what it had not reached, and consume
// starts another goroutine that goes on from there.
func (q *Queue[T]) handleSafely() {
	ok := false
	defer func() {
		if ok {
			return
		}
		n := max(q.progress, 1) // includes the message whose handler panicked
		q.rest = q.rest[n:]
		q.handled.Add(uint64(n))
		q.panics.Add(1)
		reportPanic(q.name, q.onPanic, panicValue(recover()))
	}()
	q.progress = 0
	q.handle(q.rest, &q.progress)
	ok = true
	q.rest = q.rest[q.progress:]
	q.handled.Add(uint64(q.progress))
}

// Close stops accepting messages: posts after it fail with ErrClosed (C:
// FOREIGN_ECLOSED). Every message accepted before Close is still delivered,
// and when Close returns the handler has handled the last of them, OnClose
// has run, and neither will be called again. On a Loop that is not running,
// Close serves the Loop itself until then. Called from inside a handler —
// this queue's, or any other handle's — Close returns at once instead, and
// delivery of what remains goes on without it (see the package doc,
// "Closing and releasing"). Close is idempotent and safe to call concurrently, and does
// nothing on a queue already closed and freed (by Release and the last
// foreign_release), even when its memory serves another handle by then.
func (q *Queue[T]) Close() error { return q.closeWait() }

// Stats returns the queue's counters.
func (q *Queue[T]) Stats() Stats {
	return ringStats(q.h, q.panics.Load(), q.handled.Load(), q.handledBytes.Load())
}

// ringStats: delivered is what reached the handler (or Recv). Posted is
// read after it, and both only grow, so Depth is never negative.
func ringStats(h *fq.Handle, panics, delivered, deliveredBytes uint64) Stats {
	posted := h.Posted()
	depth := posted - min(delivered, posted)
	b := h.Counts()
	hw := max(b.HighWater, depth)
	if h.Bytes() {
		hw = b.HighWater // in bytes
	}
	return Stats{
		Capacity:       h.Capacity(),
		Posted:         posted,
		Delivered:      delivered,
		Depth:          depth,
		HighWater:      hw,
		PostedBytes:    h.PostedBytes(),
		DeliveredBytes: deliveredBytes,
		RejectedFull:   b.RejectedFull,
		RejectedClosed: b.RejectedClosed,
		Wakeups:        b.Wakeups,
		Panics:         panics,
		TimedOut:       b.TimedOut,
	}
}
