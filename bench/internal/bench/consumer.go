package bench

import (
	"errors"
	"sync/atomic"

	"github.com/foreigncall/foreign"
)

// checker is the Go consumers' work, the same for every strategy: count the
// messages, check that each producer's sequence numbers arrive in order
// with no gap and no repeat, and note when the last expected one arrives.
// Its plain fields belong to the consumer goroutine; others read them only
// after done is closed or the consumer has stopped, either of which
// synchronizes after the consumer's last write.
type checker struct {
	next  []uint64 // per producer: the sequence number expected next
	total uint64   // close done when n reaches it; 0: never
	n     uint64
	endNs int64 // CLOCK_MONOTONIC at the last expected message
	done  chan struct{}

	publish bool          // keep got current (for a poller)
	got     atomic.Uint64 // n, when publish
	bad     atomic.Uint64 // out-of-order messages
}

func newChecker(producers int, total uint64, publish bool) *checker {
	return &checker{
		next:    make([]uint64, producers),
		total:   total,
		done:    make(chan struct{}),
		publish: publish,
	}
}

func (c *checker) consume(m msg) {
	if int(m.Producer) < len(c.next) && m.Seq == c.next[m.Producer] {
		c.next[m.Producer]++
	} else {
		c.bad.Add(1)
	}
	c.n++
	if c.publish {
		c.got.Store(c.n)
	}
	if c.n == c.total {
		c.endNs = nowNs()
		close(c.done)
	}
}

// newForeignQueue is the foreign strategy's consumer: a queue whose handler
// checks every message.
func newForeignQueue(c *checker, capacity int) (*foreign.Queue[msg], error) {
	return newForeignQueueLat(c, capacity, false)
}

// newForeignQueueLat is newForeignQueue, recording latencies if lat.
func newForeignQueueLat(c *checker, capacity int, lat bool) (*foreign.Queue[msg], error) {
	return foreign.NewQueue(c.consume, foreign.QueueConfig{Capacity: capacity, Name: "bench", Latency: lat})
}

// sinks are the channels of the export+chan strategy. An exported function
// cannot be a closure, so the C threads name their sink by index; a fixed
// table makes the lookup one load, which keeps the strategy's cost the
// call and the send.
var sinks [16]atomic.Pointer[chanSink]

// chanSink is a buffered channel drained by a goroutine: what a cgo
// callback that wants its event on a goroutine typically does.
type chanSink struct {
	slot    int
	ch      chan msg
	drained chan struct{}
}

var errNoSink = errors.New("bench: all export+chan sinks in use")

func newChanSink(c *checker, capacity int) (*chanSink, error) {
	s := &chanSink{ch: make(chan msg, capacity), drained: make(chan struct{})}
	s.slot = -1
	for i := range sinks {
		if sinks[i].CompareAndSwap(nil, s) {
			s.slot = i
			break
		}
	}
	if s.slot < 0 {
		return nil, errNoSink
	}
	go func() {
		defer close(s.drained)
		for m := range s.ch {
			c.consume(m)
		}
	}()
	return s, nil
}

// close stops the drain after what was sent. No C thread may send any more.
func (s *chanSink) close() {
	close(s.ch)
	<-s.drained
	sinks[s.slot].Store(nil)
}
