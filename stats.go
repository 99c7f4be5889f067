// stats.go: the counters every handle reports, and their log/slog form.

package foreign

import "log/slog"

// Stats is a snapshot of a queue's counters. The counters are read one at a
// time while producers run, so they are not a consistent cut; each is exact
// on its own.
//
// For a byte queue (ByteQueue, BytePullQueue, BytesFunc) Capacity and
// HighWater count bytes of the ring (a message takes its length rounded up
// to 8; see ByteQueueConfig.Capacity), and PostedBytes and DeliveredBytes the messages' bytes;
// the other counters count messages, as for every handle.
type Stats struct {
	Capacity       int    // messages the queue holds (a byte queue: bytes)
	Posted         uint64 // messages accepted (post returned 0); never goes backwards
	Delivered      uint64 // messages handed to the handler (its call has returned) or to Recv
	Depth          uint64 // accepted, not yet delivered: Posted - Delivered
	HighWater      uint64 // the largest depth the consumer has seen, and at least Depth
	RejectedFull   uint64 // posts refused because the queue was full
	RejectedClosed uint64 // posts refused because the queue was closed
	Wakeups        uint64 // system calls made to wake the parked consumer
	Panics         uint64 // handler panics recovered
	TimedOut       uint64 // waiting posts and calls that gave up
	LateResults    uint64 // Func: results dropped because the caller had gone
	PostedBytes    uint64 // a byte queue: the bytes of the messages accepted
	DeliveredBytes uint64 // a byte queue: the bytes of the messages delivered
}

// LogValue makes Stats a log/slog group of its counters, so that
// slog.Any("queue", q.Stats()) logs them by name.
func (s Stats) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("capacity", s.Capacity),
		slog.Uint64("posted", s.Posted),
		slog.Uint64("delivered", s.Delivered),
		slog.Uint64("depth", s.Depth),
		slog.Uint64("high_water", s.HighWater),
		slog.Uint64("rejected_full", s.RejectedFull),
		slog.Uint64("rejected_closed", s.RejectedClosed),
		slog.Uint64("wakeups", s.Wakeups),
		slog.Uint64("panics", s.Panics),
		slog.Uint64("timed_out", s.TimedOut),
		slog.Uint64("late_results", s.LateResults),
		slog.Uint64("posted_bytes", s.PostedBytes),
		slog.Uint64("delivered_bytes", s.DeliveredBytes),
	)
}
