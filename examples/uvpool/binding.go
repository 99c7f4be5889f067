package main

// The binding: libuv work requests whose work callbacks, on libuv's thread
// pool, ask Go for a decision with foreign_call (answered by a foreign.Func)
// and hand their result to a foreign.Queue. The C half is uvpool.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo pkg-config: libuv
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#include "uvpool.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"strconv"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// MaxSize is the most bytes one work item produces.
const MaxSize = C.UVP_MAX_SIZE

// Arg is what a work item asks Go (uvp_arg in uvpool.h).
type Arg struct {
	Item uint32
	_    uint32
}

// Decision is Go's answer: what the item is to produce (uvp_decision).
type Decision struct {
	Seed uint64
	Size uint32 // at most MaxSize
	_    uint32
}

// Result is what a work item hands back (uvp_result).
type Result struct {
	Item uint32
	Tid  int32  // the pool thread that did the work
	Size uint32 // bytes produced
	CRC  uint32 // their CRC-32 (IEEE)
	Seed uint64 // the decision the work used
}

// The build fails here if a Go type and its C struct differ in size: each
// array length is negative unless they agree. (Every field is naturally
// aligned, so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(Arg{}) - C.sizeof_uvp_arg]struct{}
	_ [C.sizeof_uvp_arg - unsafe.Sizeof(Arg{})]struct{}
	_ [unsafe.Sizeof(Decision{}) - C.sizeof_uvp_decision]struct{}
	_ [C.sizeof_uvp_decision - unsafe.Sizeof(Decision{})]struct{}
	_ [unsafe.Sizeof(Result{}) - C.sizeof_uvp_result]struct{}
	_ [C.sizeof_uvp_result - unsafe.Sizeof(Result{})]struct{}
)

// Mode is how a work callback reaches Go.
type Mode int

const (
	// Foreign asks with foreign_call and hands results over with
	// foreign_post_wait: the pool thread never enters the Go runtime.
	Foreign Mode = C.UVP_FOREIGN
	// Export calls the //export'ed uvpDecide and uvpResult (export.go) on
	// the pool thread: the baseline the examples compare against.
	Export Mode = C.UVP_EXPORT
)

func (m Mode) String() string {
	switch m {
	case Foreign:
		return "foreign"
	case Export:
		return "export"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Job is a batch of work requests.
type Job struct {
	Items int
	Mode  Mode
	// Decide is called once per item. With Foreign it runs on the Func's
	// goroutine, one call at a time; with Export, on the pool threads,
	// several at once.
	Decide func(Arg) Decision
	// Handle is called once per item that got a decision. With Foreign it
	// runs on the queue's goroutine, one call at a time, in order per pool
	// thread; with Export, on the pool threads, several at once.
	Handle func(Result)

	// Timeout bounds each foreign_call and each wait for room in the
	// result queue. 0 means 5 s.
	Timeout time.Duration
	// Timings makes Run keep the duration of every hand-off.
	Timings bool
	// OnPanic is told of a panic in Decide or Handle (Foreign); nil logs
	// it. The call that panicked fails with FOREIGN_EPANIC. With Export a
	// panic ends the program: it cannot unwind through C.
	OnPanic func(*foreign.PanicError)
}

// Stats is what a run did.
type Stats struct {
	Done       uint64 // work requests completed
	CallFailed uint64 // decisions that failed (the item produced nothing)
	Waited     uint64 // result posts that found the queue full and waited
	Lost       uint64 // result posts refused even after waiting
	LastErr    error  // why the last failure failed

	Calls foreign.Stats // Foreign: the Func's counters
	Queue foreign.Stats // Foreign: the result queue's counters

	// Durations (nanoseconds) of the decisions and of the result hand-offs,
	// as the pool threads saw them, if Job.Timings.
	CallTimes, PostTimes []uint64
	// Hand-offs during which the pool thread slept or was preempted.
	CallSlept, CallPreempted, PostSlept, PostPreempted uint64
}

// Run queues j.Items work requests on a libuv loop of their own and runs it
// on the calling goroutine's thread until all have completed; when Run
// returns, Handle has been called for the last result.
func (j Job) Run() (Stats, error) {
	if j.Timeout == 0 {
		j.Timeout = 5 * time.Second
	}
	cfg := C.uvp_config{
		mode:       C.int(j.Mode),
		items:      C.uint32_t(j.Items),
		timeout_ns: C.int64_t(j.Timeout),
	}
	if j.Timings {
		cfg.timings = C.uint64_t(j.Items)
	}
	var (
		fn *foreign.Func[Arg, Decision]
		q  *foreign.Queue[Result]
		h  cgo.Handle
	)
	switch j.Mode {
	case Foreign:
		var err error
		// Capacity: room for every pool thread's call at once, with margin.
		fn, err = foreign.NewFunc(j.Decide, foreign.FuncConfig{Capacity: 64, Name: "uvpool decide", OnPanic: j.OnPanic})
		if err != nil {
			return Stats{}, fmt.Errorf("uvpool: %w", err)
		}
		defer fn.Close()
		q, err = foreign.NewQueue(j.Handle, foreign.QueueConfig{Capacity: 4096, Name: "uvpool results", OnPanic: j.OnPanic})
		if err != nil {
			return Stats{}, fmt.Errorf("uvpool: %w", err)
		}
		defer q.Close()
		cfg.decide = C.uintptr_t(fn.Token())
		cfg.results = C.uintptr_t(q.Token())
	case Export:
		h = cgo.NewHandle(&j)
		defer h.Delete()
		cfg.decide = C.uintptr_t(h)
		cfg.results = C.uintptr_t(h)
	default:
		return Stats{}, fmt.Errorf("uvpool: unknown mode %d", j.Mode)
	}
	c := C.uvp_new(&cfg)
	if c == nil {
		return Stats{}, fmt.Errorf("uvpool: out of memory")
	}
	defer C.uvp_free(c)
	rc := C.uvp_run(c) // blocks this thread; the pool threads call Go meanwhile
	if q != nil {
		q.Close() // delivers the results still queued
		fn.Close()
	}
	var st C.uvp_stats
	C.uvp_stats_get(c, &st)
	out := Stats{
		Done: uint64(st.done), CallFailed: uint64(st.call_failed),
		Waited: uint64(st.waited), Lost: uint64(st.lost),
		CallSlept: uint64(st.call_slept), CallPreempted: uint64(st.call_preempted),
		PostSlept: uint64(st.post_slept), PostPreempted: uint64(st.post_preempted),
		CallTimes: timings(c, 0), PostTimes: timings(c, 1),
	}
	if st.last_code != 0 {
		out.LastErr = foreign.FromCode(int(st.last_code))
	}
	if q != nil {
		out.Calls, out.Queue = fn.Stats(), q.Stats()
	}
	if rc != 0 {
		return out, fmt.Errorf("uvpool: %s", C.GoString(C.uvp_strerror(rc)))
	}
	return out, nil
}

func timings(c *C.uvp_job, which C.int) []uint64 {
	var p *C.uint64_t
	n := C.uvp_timings(c, which, &p)
	if n == 0 {
		return nil
	}
	return append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(p)), int(n))...)
}
