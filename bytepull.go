// bytepull.go: BytePullQueue, a byte queue that Go code reads itself.

package foreign

import (
	"context"
	"runtime"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// BytePullConfig configures a [BytePullQueue]. The zero value is ready to
// use.
type BytePullConfig struct {
	// Capacity and MaxMessage: see ByteQueueConfig.
	Capacity   int
	MaxMessage int

	// OnClose and Latency: see PullConfig.
	OnClose func()
	Latency bool
}

// BytePullQueue is a byte queue without a handler: Go code reads it with
// ReadInto, which copies each message into the caller's buffer and
// allocates nothing once the buffer is large enough, or Recv. C and Go
// producers post into it as into a ByteQueue.
type BytePullQueue struct {
	puller
	taken atomic.Uint64 // messages returned
	bytes atomic.Uint64 // their bytes
}

// NewBytePullQueue returns a byte queue that Go code reads with ReadInto
// or Recv.
func NewBytePullQueue(cfg BytePullConfig) (*BytePullQueue, error) {
	o, err := openBytes(cfg.Capacity, cfg.MaxMessage, nil, fq.KindQueue, 0, 1, cfg.Latency)
	if err != nil {
		return nil, err
	}
	q := &BytePullQueue{}
	q.initPuller(o, cfg.OnClose)
	runtime.AddCleanup(q, discardUnread, q.h)
	return q, nil
}

// Post copies p into the queue without blocking (see ByteQueue.Post).
func (q *BytePullQueue) Post(p []byte) error { return q.h.PostBytes(p, nil) }

// PostWait is Post that waits until p fits (see ByteQueue.PostWait).
func (q *BytePullQueue) PostWait(ctx context.Context, p []byte) error {
	return q.h.PostBytesWait(ctx, p, nil)
}

// MaxMessage is the longest message the queue takes.
func (q *BytePullQueue) MaxMessage() int { return q.h.MaxMessage() }

// ReadInto waits for the next message, until ctx is done, and returns it
// appended to buf[:0]: in buf itself when it is large enough, so a reader
// that passes back what it got allocates nothing in the steady state.
// After Close it returns the messages accepted before Close, then
// ErrClosed. Several goroutines may call it; each message goes to one of
// them.
func (q *BytePullQueue) ReadInto(ctx context.Context, buf []byte) ([]byte, error) {
	out, last, err := q.recv(ctx, buf[:0])
	if last {
		q.closed() // OnClose may call ReadInto: not as the reader
	}
	return out, err
}

// Recv returns the next message in a new slice (see ReadInto).
func (q *BytePullQueue) Recv(ctx context.Context) ([]byte, error) { return q.ReadInto(ctx, nil) }

// recv is ReadInto as the one reader; last says that it found the queue
// closed and drained and freed it, and OnClose is due.
func (q *BytePullQueue) recv(ctx context.Context, buf []byte) (out []byte, last bool, err error) {
	if err := q.enterReader(ctx); err != nil {
		return buf, false, err
	}
	defer q.leaveReader()
	h := q.h
	for {
		if h.Freed() {
			return buf, false, ErrClosed
		}
		if m, ok := h.Next(); ok {
			if q.lat != nil {
				q.lat.batch(h.Stamps()[:1])
			}
			buf = append(buf, m...)
			h.Release(false)
			q.taken.Add(1)
			q.bytes.Add(uint64(len(m)))
			h.SpinReset()
			return buf, false, nil
		}
		if h.SpinWait() {
			continue // see consume: the tail is read only after spinning
		}
		if h.Drained() {
			q.release()
			return buf, true, ErrClosed
		}
		if err := h.Park(ctx, h.Claimed); err != nil {
			return buf, false, err
		}
	}
}

// Stats returns the queue's counters (see ByteQueue.Stats).
func (q *BytePullQueue) Stats() Stats {
	return ringStats(q.h, q.panics.Load(), q.taken.Load(), q.bytes.Load())
}
