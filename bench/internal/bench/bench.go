// Package bench measures what it costs a C thread to hand an event to Go,
// for the foreign queue and for the alternatives it replaces, side by side
// in one process. It backs the benchmarks in bench_test.go and is meant to
// back a command-line tool as well.
//
// # Measurements
//
// Latency ([Prober], [MeasureLatency]): one C thread makes calls at a steady
// paced rate (1 M/s by default) and times each call in C, the way a
// real-time or network thread would experience it, while the consumer runs.
// The result is the distribution of per-call times. [StartLoad] adds garbage
// collector pressure or CPU-bound goroutines for the duration.
//
// Calls are timed with the TSC on x86 (fenced, calibrated against
// CLOCK_MONOTONIC) and with CLOCK_MONOTONIC elsewhere. The [Noop] strategy
// measures what the timing itself adds. Times come in steps of the clock's
// resolution: AMD's TSC, for one, advances 10 ns at a time.
//
// Throughput ([MeasureThroughput]): N C threads each send M messages as fast
// as they can, retrying after a pause when the queue is full, until the
// consumer has received all of them in per-producer order. The time runs
// from the first send to the consumer's receipt of the last message.
//
// # Strategies
//
// [Noop] is an empty C function called through a pointer: the floor of the
// timing itself. [Export] calls an //export'ed Go function. [ExportChan]
// calls one that sends the message on a buffered channel drained by a
// goroutine. [Foreign] posts with foreign_post into a
// [github.com/foreigncall/foreign.Queue] whose handler checks the sequence
// numbers. [CRing] is the same ring with a C consumer thread: the C-only
// floor for throughput.
//
// The alternatives without this library (alt.c, alt.go), each with a Go
// consumer goroutine: [EventFD] writes an eventfd per event and [Pipe] the
// message to a pipe, both read by a goroutine through Go's poller (the
// eventfd counts events but cannot carry them); [Async] is a coalescing
// wake-up in the style of libuv's uv_async_send, whose consumer sees only
// the latest value (the rest are counted as lost); [CondVar] is a bounded
// mutex + condition-variable queue that a goroutine drains in batches from
// a blocking cgo call. [ForeignGo] posts with Queue.Post from goroutines.
//
// Calls ([CallStrategies]): [Export] is a direct //export call, [CallForeign]
// a foreign_call to a foreign.Func, [CallCond] a request/reply handshake
// under a C mutex and two condvars with a goroutine that waits in a cgo
// call. [MeasureWake] times post → handler start with the consumer parked;
// [MeasureFresh] a thread created and joined per event.
//
// Byte strings ([MeasureBytes], [MeasureBytesLatency]; bytes.go, bytes.c):
// C threads send byte strings of one length each run, 16 B to 64 KiB, to a
// Go consumer that touches and checks every one (its header's sequence
// number, producer and length, and its last byte). [BytesPost] posts each
// with foreign_post into a [github.com/foreigncall/foreign.ByteQueue],
// whose handler gets it in place in the ring; [BytesPostv] posts a header
// from the stack and the payload as two parts with foreign_postv. The
// alternatives: [GoBytes] and [GoPool] call an //export'ed function that
// copies the bytes (C.GoBytes; a buffer from a sync.Pool, put back by the
// consumer) and sends them on a buffered channel; [Pipe] writes
// [u64 length][message] with one writev (under a mutex when the record is
// longer than PIPE_BUF and there are several producers), read by a
// goroutine into one large buffer; [SeqPacket] sends each message on an
// AF_UNIX SOCK_SEQPACKET socket, one read per message. [Memcpy] is the
// limit: one C thread copying the same messages into a buffer of the
// ring's size. Every strategy gets the same memory to buffer in: the byte
// queue's ring (1 MiB), the pipe's and the socket's buffer, the channel's
// capacity in messages.
//
// # Threads
//
// Every C thread is a pthread started by harness.c; the Go side blocks in a
// cgo call while it waits for one. The consumers check every message the
// same way for every strategy (count, per-producer order), and a measurement
// that loses, repeats or reorders a message returns an error rather than a
// result.
package bench

import "fmt"

// Strategy is a way for a C thread to hand an event to Go.
type Strategy string

// The strategies. Their values are the names used in benchmark names.
const (
	Noop       Strategy = "noop"        // an empty C function: the timing floor
	Export     Strategy = "export"      // call an //export'ed Go function
	ExportChan Strategy = "export+chan" // //export'ed function sending on a channel
	Foreign    Strategy = "foreign"     // foreign_post into a foreign.Queue
	// ForeignLatency is Foreign into a queue that records latencies
	// (QueueConfig.Latency): what the option costs a post.
	ForeignLatency Strategy = "foreign+latency"
	CRing          Strategy = "c-ring" // the same ring with a C consumer thread

	ForeignGo   Strategy = "foreign-go"     // q.Post from Go goroutines (throughput)
	EventFD     Strategy = "eventfd"        // an eventfd write per event, read by a goroutine
	Pipe        Strategy = "pipe"           // a pipe write per event, read by a goroutine
	Async       Strategy = "async"          // uv_async_send-style coalescing wake-up (loses events)
	CondVar     Strategy = "mutex+cond"     // a mutex + condvar queue drained by a goroutine
	CallForeign Strategy = "foreign_call"   // foreign_call into a foreign.Func
	CallCond    Strategy = "cond-handshake" // mutex + condvar request/reply with a goroutine
	FutexWake   Strategy = "futex"          // C-only floor: a C thread waking a C thread on a futex
	FutexPing   Strategy = "futex-pingpong" // C-only floor: a round trip between two C threads on futexes
)

// AllLatencyStrategies are every strategy a [Prober] can time per post,
// floor first.
var AllLatencyStrategies = []Strategy{Noop, Export, ExportChan, Foreign, ForeignLatency, EventFD, Pipe, Async, CondVar}

// AllThroughputStrategies are every strategy [MeasureThroughput] runs,
// floor first.
var AllThroughputStrategies = []Strategy{CRing, Foreign, ForeignGo, ExportChan, EventFD, Pipe, Async, CondVar}

// CallStrategies are the round-trip calls a [Prober] times: the C thread
// waits for a Go function's result.
var CallStrategies = []Strategy{Export, CallForeign, CallCond}

// LatencyStrategies are the strategies a [Prober] times, floor first.
var LatencyStrategies = []Strategy{Noop, Export, ExportChan, Foreign, ForeignLatency}

// ThroughputStrategies are the strategies [MeasureThroughput] runs, floor
// first.
var ThroughputStrategies = []Strategy{CRing, Foreign, ExportChan}

// ParseStrategy returns the strategy named s.
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(s); st {
	case Noop, Export, ExportChan, Foreign, ForeignLatency, CRing, ForeignGo, EventFD, Pipe, Async, CondVar,
		CallForeign, CallCond, FutexWake, FutexPing,
		BytesPost, BytesPostv, GoBytes, GoPool, SeqPacket, Memcpy:
		return st, nil
	}
	return "", fmt.Errorf("bench: unknown strategy %q", s)
}

// kind is the strategy's name in harness.h.
func (s Strategy) kind() int {
	switch s {
	case Noop:
		return kindNoop
	case Export:
		return kindExport
	case ExportChan:
		return kindExportChan
	case Foreign, ForeignLatency:
		return kindForeign
	case CRing:
		return kindCRing
	case EventFD:
		return kindEventFD
	case Pipe:
		return kindPipe
	case Async:
		return kindAsync
	case CondVar:
		return kindCondVar
	case CallForeign:
		return kindCall
	case CallCond:
		return kindCallCV
	}
	return 0
}
