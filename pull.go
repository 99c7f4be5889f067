// pull.go: PullQueue, a queue that Go code reads itself.

package foreign

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// PullConfig configures a [PullQueue]. The zero value is ready to use.
type PullConfig struct {
	// Capacity is how many messages the queue holds before posts fail with
	// ErrFull. It is rounded up to a power of two. Zero means 1024.
	Capacity int

	// OnClose, if set, is called once when the queue has been closed and
	// Recv has returned everything it accepted, on the goroutine whose
	// Recv (or Close) found it drained. A panic in it is recovered,
	// counted in Stats.Panics and reported (logged with slog.Default()).
	OnClose func()

	// Latency, if set, records how long each message waits, from its
	// post to its return by Recv, in a histogram read with Latency (see
	// QueueConfig.Latency).
	Latency bool
}

// PullQueue is a queue without a handler: Go code reads it with Recv or,
// without allocating, RecvBatch. C and Go producers post into it as into a
// Queue.
type PullQueue[T any] struct {
	puller
	taken atomic.Uint64 // messages Recv has returned (Stats.Delivered)
}

// NewPullQueue returns a queue that Go code reads with Recv. T must be
// plain data, as for NewQueue.
func NewPullQueue[T any](cfg PullConfig) (*PullQueue[T], error) {
	o, err := openTyped[T](cfg.Capacity, nil, 0, -1, 1, cfg.Latency)
	if err != nil {
		return nil, err
	}
	q := &PullQueue[T]{}
	q.initPuller(o, cfg.OnClose)
	runtime.AddCleanup(q, discardUnread, q.h)
	return q, nil
}

// Post copies v into the queue without blocking (see Queue.Post).
func (q *PullQueue[T]) Post(v T) error { return fq.Post(q.h, v) }

// PostWait is Post that waits while the queue is full, until ctx is done.
func (q *PullQueue[T]) PostWait(ctx context.Context, v T) error { return fq.PostWait(q.h, ctx, v) }

// Recv returns the next message, waiting for one until ctx is done. After
// Close it returns the messages accepted before Close, then ErrClosed.
// Several goroutines may call it; each message goes to one of them.
func (q *PullQueue[T]) Recv(ctx context.Context) (T, error) {
	var one [1]T
	_, err := q.RecvBatch(ctx, one[:])
	return one[0], err
}

// RecvBatch waits until at least one message is ready, or ctx is done, and
// copies up to len(buf) messages into buf. It allocates nothing.
func (q *PullQueue[T]) RecvBatch(ctx context.Context, buf []T) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	n, last, err := q.recv(ctx, buf)
	if last {
		q.closed() // OnClose may call Recv: not under mu
	}
	return n, err
}

// recv is RecvBatch as the one reader; last says that it found the
// queue closed and drained and freed it, and OnClose is due.
func (q *PullQueue[T]) recv(ctx context.Context, buf []T) (n int, last bool, err error) {
	if err := q.enterReader(ctx); err != nil {
		return 0, false, err
	}
	defer q.leaveReader()
	h := q.h
	for {
		if h.Freed() {
			return 0, false, ErrClosed
		}
		if n := fq.Take(h, buf); n > 0 {
			if q.lat != nil {
				q.lat.batch(stampsOf(h, n, n))
			}
			q.taken.Add(uint64(n))
			h.SpinReset()
			return n, false, nil
		}
		if h.SpinWait() {
			continue // see consume: the tail is read only after spinning
		}
		if h.Drained() {
			q.release()
			return 0, true, ErrClosed
		}
		if err := h.Park(ctx, h.Claimed); err != nil {
			return 0, false, err
		}
	}
}

// tryRecv copies what is ready into buf without waiting; 0 if nothing is,
// or another reader holds the queue.
func (q *PullQueue[T]) tryRecv(buf []T) int {
	if !q.tryReader() {
		return 0
	}
	defer q.leaveReader()
	if q.h.Freed() {
		return 0
	}
	n := fq.Take(q.h, buf)
	q.taken.Add(uint64(n))
	return n
}

// puller is what the pull queues (PullQueue, BytePullQueue) share: the
// core, and the one reader at a time the ring allows.
type puller struct {
	core
	// reader is held by the one reader; a channel, not a mutex, so that a
	// reader waiting for another gives up when its context is done.
	reader chan struct{}
}

// discardUnread frees the C side of a pull queue that became unreachable
// without being closed and drained (its reader went away): the cleanup
// every pull queue registers.
func discardUnread(h *fq.Handle) {
	if !h.Freed() {
		h.Discard()
	}
}

// enterReader becomes the one reader, waiting for another until ctx is done.
func (q *puller) enterReader(ctx context.Context) error {
	select {
	case q.reader <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leaveReader lets the next reader in.
func (q *puller) leaveReader() { <-q.reader }

// initPuller is core.init for a pull queue: no handler, so no handler time.
func (q *puller) initPuller(o opened, onClose func()) {
	q.reader = make(chan struct{}, 1)
	q.init(o, "", nil, onClose)
	q.lat = newLatency(q.h, false)
}

// Close stops accepting messages: posts after it fail with ErrClosed.
// Close does not wait: Recv returns the messages accepted before it, then
// ErrClosed. Idempotent, and inert on a queue already freed.
func (q *puller) Close() error {
	q.closeIntake()
	if q.tryReader() {
		// Free now if nothing is left for Recv to return.
		free := !q.h.Freed() && q.h.Drained()
		if free {
			q.release()
		}
		q.leaveReader()
		if free {
			q.closed()
		}
	}
	return nil
}

// tryReader becomes the reader if nobody is.
func (q *puller) tryReader() bool {
	select {
	case q.reader <- struct{}{}:
		return true
	default:
		return false
	}
}

// Stats returns the queue's counters.
func (q *PullQueue[T]) Stats() Stats { return ringStats(q.h, q.panics.Load(), q.taken.Load(), 0) }
