// bytequeue.go: ByteQueue, byte strings of any length from any thread to a
// Go handler.

package foreign

import (
	"context"
	"fmt"

	"github.com/foreigncall/foreign/internal/fq"
)

// ByteQueueConfig configures a [ByteQueue]. The zero value is ready to use.
type ByteQueueConfig struct {
	// Capacity is the size of the queue's ring in bytes: a post that does
	// not fit fails with ErrFull. A message takes its length rounded up to
	// a multiple of 8 (8 at least; 8 more with Latency). Capacity is
	// rounded up to a power of two and to at least twice the largest
	// message's share, so that an empty queue takes any message. Zero
	// means 1 MiB (or that least size, if it is more). The ring's memory
	// is 1.5 times Capacity: a 4-byte header per 8 bytes is kept apart.
	Capacity int

	// MaxMessage is the longest message in bytes; a longer post fails with
	// ErrMessageSize (C: FOREIGN_EMSGSIZE). Zero means 64 KiB; at most
	// 1 GiB - 64 bytes.
	MaxMessage int

	// Name labels the queue in panic reports.
	Name string

	// OnPanic is called on the consumer when the handler panics; delivery
	// continues with the next message. Nil logs the panic with
	// slog.Default().
	OnPanic func(*PanicError)

	// Loop, if set, serves the queue on that Loop's goroutine.
	Loop *Loop

	// OnClose, if set, is called once when the queue has been closed and
	// everything it accepted has been delivered (see QueueConfig.OnClose).
	OnClose func()

	// Latency: see QueueConfig.Latency (each message takes 8 bytes more).
	Latency bool
}

const (
	defaultByteCapacity = 1 << 20
	defaultMaxMessage   = 64 << 10
)

// ByteQueue carries byte strings of any length up to a maximum from any
// thread to a Go handler, through a ring bounded in bytes. C code posts
// with foreign_post(q.Token(), buf, len), or foreign_postv to send a header
// and a payload without copying them together first; Go code posts with
// Post. Messages are delivered on one goroutine (its own, or its Loop's),
// in order per producer, each exactly once, as with a Queue; posting stays
// lock-free, allocation-free and async-signal-safe.
//
// The handler receives each message in place in the ring, without a copy
// and without an allocation: the slice is valid only until the handler
// returns, and must not be kept (copy it to keep it). Its capacity is its
// length.
type ByteQueue struct {
	*byteRing
}

// byteRing is the queue machinery a ByteQueue is built on: a Queue whose
// batch holds the records in place.
type byteRing = Queue[[]byte]

// NewByteQueue returns a byte queue whose messages are delivered to
// handler, one at a time, on a goroutine of its own (or cfg.Loop's). For a
// queue that Go code reads itself, see NewBytePullQueue.
func NewByteQueue(handler func([]byte), cfg ByteQueueConfig) (*ByteQueue, error) {
	if handler == nil {
		return nil, fmt.Errorf("foreign: NewByteQueue: nil handler (for pull mode, NewBytePullQueue): %w", ErrInvalid)
	}
	q, err := openByteQueue(cfg, fq.KindQueue, 0, 1)
	if err != nil {
		return nil, err
	}
	q.handle = oneAtATime(q.byteRing, handler)
	startConsumer(q.byteRing)
	return q, nil
}

// NewByteBatchQueue is NewByteQueue for a handler that takes every message
// that is ready at once (up to 256), each in place in the ring. The slice
// and the messages are valid only until the handler returns. A panic ends
// the handler's batch; delivery continues with the next one.
func NewByteBatchQueue(handler func([][]byte), cfg ByteQueueConfig) (*ByteQueue, error) {
	if handler == nil {
		return nil, fmt.Errorf("foreign: NewByteBatchQueue: nil handler: %w", ErrInvalid)
	}
	q, err := openByteQueue(cfg, fq.KindQueue, 0, 1)
	if err != nil {
		return nil, err
	}
	q.handle = wholeBatch(q.byteRing, handler)
	startConsumer(q.byteRing)
	return q, nil
}

// openByteQueue opens the byte ring of a queue, or of a function (kind
// fq.KindFunc, whose records carry an 8-byte call header before the
// argument).
func openByteQueue(cfg ByteQueueConfig, kind, extra, workers int) (*ByteQueue, error) {
	o, err := openBytes(cfg.Capacity, cfg.MaxMessage, cfg.Loop, kind, extra, workers, cfg.Latency)
	if err != nil {
		return nil, err
	}
	r := &byteRing{buf: make([][]byte, maxBatch)}
	r.init(o, cfg.Name, cfg.OnPanic, cfg.OnClose)
	r.region = regionQueue
	h := r.h
	r.take = func(buf [][]byte) int {
		n := 0
		for n < len(buf) {
			m, ok := h.Next()
			if !ok {
				break
			}
			buf[n] = m
			n++
		}
		return n
	}
	r.delivered = func(full bool) {
		var n uint64
		for _, m := range r.buf[:h.ReadN()] {
			n += uint64(len(m))
		}
		r.handledBytes.Add(n) // once per batch: the counter's line is shared with Stats
		h.Release(full)
	}
	return &ByteQueue{r}, nil
}

// openBytes checks the sizes and opens a byte ring for messages of up to
// maxMsg bytes (plus extra, a call's header).
func openBytes(capacity, maxMsg int, loop *Loop, kind, extra, workers int, stamp bool) (opened, error) {
	switch {
	case maxMsg < 0 || maxMsg > fq.MaxBytesMsg-extra:
		return opened{}, fmt.Errorf("foreign: MaxMessage %d out of range [0, %d]: %w", maxMsg, fq.MaxBytesMsg-extra, ErrInvalid)
	case maxMsg == 0:
		maxMsg = defaultMaxMessage
	}
	maxMsg += extra
	least := 2 * fq.RecSize(maxMsg)
	if stamp {
		least += 2 * fq.StampSize
	}
	switch {
	case capacity < 0 || capacity > fq.MaxRing:
		return opened{}, fmt.Errorf("foreign: capacity %d out of range [0, %d]: %w", capacity, fq.MaxRing, ErrInvalid)
	case capacity == 0:
		capacity = defaultByteCapacity
	}
	capacity = 1 << bitsFor(max(capacity, least))
	if capacity > fq.MaxRing {
		return opened{}, fmt.Errorf("foreign: capacity %d for MaxMessage %d over %d: %w", capacity, maxMsg, fq.MaxRing, ErrInvalid)
	}
	callRet := -1
	if kind == fq.KindFunc {
		callRet = 0
	}
	o, err := open(fq.OpenArgs{MsgSize: uintptr(maxMsg), Capacity: uintptr(capacity), Kind: kind, Bytes: true,
		CallRet: callRet, Workers: workers, Stamp: stamp}, loop)
	if err != nil {
		return opened{}, fmt.Errorf("foreign: new byte queue: %w", err)
	}
	return o, nil
}

// Post copies p into the queue without blocking and without a cgo call:
// ErrFull if it does not fit now, ErrMessageSize if it is longer than
// MaxMessage, ErrClosed after Close. A nil return means p will be
// delivered. p may be reused as soon as Post returns.
func (q *ByteQueue) Post(p []byte) error { return q.h.PostBytes(p, nil) }

// PostWait is Post that waits until p fits, or ctx is done (ctx.Err()).
// Close wakes it with ErrClosed. A waiting message is not starved by
// smaller ones: the first waiter reserves the room it needs, and posts that
// do not wait get ErrFull while they would not leave it. Called from the
// queue's own handler into a full queue it returns ErrDeadlock at once.
func (q *ByteQueue) PostWait(ctx context.Context, p []byte) error {
	return q.h.PostBytesWait(ctx, p, nil)
}

// MaxMessage is the longest message the queue takes.
func (q *ByteQueue) MaxMessage() int { return q.h.MaxMessage() }

// Stats returns the queue's counters; Capacity and HighWater count bytes
// of the ring.
func (q *ByteQueue) Stats() Stats { return q.byteRing.Stats() }
