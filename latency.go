// latency.go: a handle's optional latency recording (the Latency field of
// its config): queueing delay from each message's stamp, handler time.

package foreign

import "github.com/foreigncall/foreign/internal/fq"

// Latency holds a handle's latency histograms, when its config asked for
// them (Latency: true); both are nil otherwise.
type Latency struct {
	// Queued is how long each message (or call) waited: from its post —
	// the time its producer, C or Go, stamped it with, just before
	// publishing it — to the start of its handler (or of the function),
	// or for a pull queue to its return from Recv.
	Queued *Histogram
	// Handled is how long the handler (or function) took: per message,
	// or per batch for a batch handler. Nil for a pull queue.
	Handled *Histogram
}

// latency is where a handle records; nil when it does not.
type latency struct {
	queued, handled *recorder
}

// newLatency makes the recorders of a handle whose messages carry stamps;
// withHandler says it has a handler whose time to record.
func newLatency(h *fq.Handle, withHandler bool) *latency {
	if !h.Stamped() {
		return nil
	}
	l := &latency{queued: newRecorder()}
	if withHandler {
		l.handled = newRecorder()
	}
	return l
}

// snapshot copies the recorders (the zero Latency if l is nil).
func (l *latency) snapshot() Latency {
	if l == nil {
		return Latency{}
	}
	out := Latency{Queued: l.queued.snapshot()}
	if l.handled != nil {
		out.Handled = l.handled.snapshot()
	}
	return out
}

// Latency returns the handle's latency histograms (see Latency); both nil
// unless its config set Latency.
func (h *core) Latency() Latency { return h.lat.snapshot() }

// start records how long a message stamped stamp waited, and returns the
// time its handler starts at (for done).
func (l *latency) start(stamp int64) int64 {
	now := fq.Now()
	l.queued.record(now - stamp)
	return now
}

// done records the time of a handler that started at start.
func (l *latency) done(start int64) { l.handled.record(fq.Now() - start) }

// batch records how long each message of a batch waited, from its stamp
// to now, and returns now.
func (l *latency) batch(stamps []int64) int64 {
	now := fq.Now()
	for _, s := range stamps {
		l.queued.record(now - s)
	}
	return now
}

// stamps are the stamps of the last n messages of a batch of batchN that
// the handle took (fewer if the batch was larger than the stamps kept).
func stampsOf(h *fq.Handle, batchN, n int) []int64 {
	s := h.Stamps()
	lo, hi := min(batchN-n, len(s)), min(batchN, len(s))
	return s[lo:hi]
}
