// Package cthreads runs C threads that post into foreign queues through the
// public C ABI, for the tests: pthread producers, a thread per message, and
// posts from signal handlers. It does not import the foreign package; the C
// symbols it calls are resolved when a test binary links both.
package cthreads

/*
#cgo CFLAGS: -I${SRCDIR}/../.. -std=gnu11 -Wall
#cgo LDFLAGS: -lpthread -lrt
#include "foreign.h"
#include "cthreads.h"
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// Msg is the message every harness thread posts (ct_msg in cthreads.h).
type Msg struct {
	Producer uint32
	_        uint32
	Seq      uint64
}

var _ [unsafe.Sizeof(Msg{}) - C.sizeof_ct_msg]struct{}
var _ [C.sizeof_ct_msg - unsafe.Sizeof(Msg{})]struct{}

// Producers is a running set of producer threads.
type Producers struct {
	p *C.ct_producers
	n int
}

// Start runs n pthreads; thread i posts {firstID+i, 0..count-1}, retrying
// when the queue is full. With untilClosed, each posts until ECLOSED.
func Start(token uintptr, n int, firstID uint32, count uint64, untilClosed bool) *Producers {
	u := C.int(0)
	if untilClosed {
		u = 1
	}
	return &Producers{p: C.ct_start(C.uintptr_t(token), C.int(n), C.uint32_t(firstID), C.uint64_t(count), u), n: n}
}

// Wait joins the threads and returns each one's count of accepted posts
// and the total of full-queue retries.
func (p *Producers) Wait() (accepted []uint64, fullRetries uint64, err error) {
	accepted = make([]uint64, p.n)
	var full C.uint64_t
	var bad C.int
	if C.ct_join(p.p, (*C.uint64_t)(unsafe.Pointer(&accepted[0])), &full, &bad) != 0 {
		err = fmt.Errorf("producer thread got return code %d", int(bad))
	}
	return accepted, uint64(full), err
}

// FreshThreads creates n threads one after another, each posting one
// message {producer, i} and exiting.
func FreshThreads(token uintptr, producer uint32, n int) (int, error) {
	got := int64(C.ct_fresh_threads(C.uintptr_t(token), C.uint32_t(producer), C.int(n)))
	if got < 0 {
		return 0, fmt.Errorf("fresh thread post failed")
	}
	return int(got), nil
}

// StormResult counts what a signal storm posted.
type StormResult struct {
	LoopAccepted   uint64 // by the producer thread's loop (producer)
	DirectAccepted uint64 // by the handler on that thread (producer+1)
	ProcAccepted   uint64 // by the handler on any thread (producer+2)
	DirectRuns     uint64
	ProcRuns       uint64
	SignalFull     uint64
}

// SignalStorm runs a producer thread for d while two POSIX timers send it,
// and the whole process, SIGUSR1 every interval; the handler posts too.
func SignalStorm(token uintptr, producer uint32, interval, d time.Duration) (StormResult, error) {
	var r C.ct_storm_result
	if C.ct_signal_storm(C.uintptr_t(token), C.uint32_t(producer), C.int64_t(interval), C.int64_t(d), &r) != 0 {
		return StormResult{}, fmt.Errorf("signal storm setup failed")
	}
	if r.bad_code != 0 {
		return StormResult{}, fmt.Errorf("storm post got return code %d", int(r.bad_code))
	}
	return StormResult{
		LoopAccepted:   uint64(r.loop_accepted),
		DirectAccepted: uint64(r.tsig_accepted),
		ProcAccepted:   uint64(r.psig_accepted),
		DirectRuns:     uint64(r.tsig_runs),
		ProcRuns:       uint64(r.psig_runs),
		SignalFull:     uint64(r.sig_full),
	}, nil
}

// Post calls foreign_post from C with arbitrary arguments, to test bad input.
func Post(token uintptr, msg unsafe.Pointer, n uintptr) int {
	return int(C.foreign_post(C.foreign_token(token), msg, C.size_t(n)))
}

// Strerror calls foreign_strerror.
func Strerror(code int) string { return C.GoString(C.foreign_strerror(C.int(code))) }

// CallResult counts how C callers' foreign_calls ended.
type CallResult struct {
	OK, TimedOut, Closed, Panicked, Wrong, Other uint64
	OtherCode                                    int
}

// Callers is a running set of calling threads.
type Callers struct{ p *C.ct_callers }

// StartCallers runs n pthreads; thread i makes count foreign_calls with
// arg Msg{firstID+i, seq}, expecting a uint64 result seq*3 + id. With
// untilClosed each calls until ECLOSED.
func StartCallers(token uintptr, n int, firstID uint32, count uint64, timeout time.Duration, untilClosed bool) *Callers {
	u := C.int(0)
	if untilClosed {
		u = 1
	}
	return &Callers{C.ct_callers_start(C.uintptr_t(token), C.int(n), C.uint32_t(firstID), C.uint64_t(count), C.int64_t(timeout), u)}
}

// Wait joins the callers.
func (c *Callers) Wait() CallResult {
	var r C.ct_call_result
	C.ct_callers_join(c.p, &r)
	return CallResult{uint64(r.ok), uint64(r.timedout), uint64(r.closed), uint64(r.panicked), uint64(r.wrong), uint64(r.other), int(r.other_code)}
}

// Call makes one foreign_call from the calling thread (a goroutine's
// thread, or, from a Func's function, the thread running it).
func Call(token uintptr, arg unsafe.Pointer, argLen uintptr, ret unsafe.Pointer, retLen uintptr, timeout time.Duration) int {
	return int(C.ct_call(C.uintptr_t(token), arg, C.size_t(argLen), ret, C.size_t(retLen), C.int64_t(timeout)))
}

// Waiters is a running set of threads posting with foreign_post_wait.
type Waiters struct {
	p *C.ct_waiters
	n int
}

// StartWaiters runs n pthreads; thread i posts Msg{firstID+i, 0..count-1}
// with foreign_post_wait, stopping at the first error.
func StartWaiters(token uintptr, n int, firstID uint32, count uint64, timeout time.Duration) *Waiters {
	return &Waiters{C.ct_waiters_start(C.uintptr_t(token), C.int(n), C.uint32_t(firstID), C.uint64_t(count), C.int64_t(timeout)), n}
}

// Wait joins the threads: each one's accepted count and the code that
// stopped it (0 if it posted all).
func (w *Waiters) Wait() (accepted []uint64, codes []int) {
	accepted = make([]uint64, w.n)
	cc := make([]C.int, w.n)
	C.ct_waiters_join(w.p, (*C.uint64_t)(unsafe.Pointer(&accepted[0])), &cc[0])
	codes = make([]int, w.n)
	for i, c := range cc {
		codes[i] = int(c)
	}
	return accepted, codes
}

// TrigResult counts trigger return codes.
type TrigResult struct {
	OK, Closed, Other uint64
	OtherCode         int
}

func trig(r C.ct_trig_result) TrigResult {
	return TrigResult{uint64(r.ok), uint64(r.closed), uint64(r.other), int(r.other_code)}
}

// TriggerThreads runs n threads that each trigger count times: an
// interrupt with foreign_signal(id*1e6+i), a notifier with
// foreign_post(NULL, 0).
func TriggerThreads(token uintptr, n int, count uint64, interrupt bool) TrigResult {
	var r C.ct_trig_result
	C.ct_trigger_threads(C.uintptr_t(token), C.int(n), C.uint64_t(count), cbool(interrupt), &r)
	return trig(r)
}

// TriggerStorm triggers from a SIGUSR1 handler, driven by a POSIX timer,
// for d; it returns the counts and the last value accepted.
func TriggerStorm(token uintptr, interrupt bool, interval, d time.Duration) (TrigResult, int64, error) {
	var r C.ct_trig_result
	var last C.int64_t
	if C.ct_trigger_storm(C.uintptr_t(token), cbool(interrupt), C.int64_t(interval), C.int64_t(d), &r, &last) != 0 {
		return TrigResult{}, 0, fmt.Errorf("trigger storm setup failed")
	}
	return trig(r), int64(last), nil
}

// RefsRace runs n threads that each acquire, post count messages and
// release.
func RefsRace(token uintptr, n int, firstID uint32, count uint64) (accepted []uint64, codes []int) {
	accepted = make([]uint64, n)
	cc := make([]C.int, n)
	C.ct_refs_race(C.uintptr_t(token), C.int(n), C.uint32_t(firstID), C.uint64_t(count), (*C.uint64_t)(unsafe.Pointer(&accepted[0])), &cc[0])
	codes = make([]int, n)
	for i, c := range cc {
		codes[i] = int(c)
	}
	return accepted, codes
}

// Acquire, Release and Signal call the C functions once.
func Acquire(token uintptr) int { return int(C.ct_acquire(C.uintptr_t(token))) }

// Release: see Acquire.
func Release(token uintptr) int { return int(C.ct_release(C.uintptr_t(token))) }

// Signal: see Acquire.
func Signal(token uintptr, value int) int { return int(C.ct_signal(C.uintptr_t(token), C.int(value))) }

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Cost kinds for CostNs.
const (
	CostSignal  = 0 // foreign_signal on an interrupt
	CostTrigger = 1 // foreign_post(NULL, 0) on a notifier
	CostExport  = 2 // a direct call of an //export Go function (token unused)
	CostPost    = 3 // foreign_post of a Msg (retried while full)
)

// CostNs runs count calls of one kind on a new pthread, back to back, and
// returns the mean ns per call.
func CostNs(token uintptr, kind int, count uint64) float64 {
	return float64(C.ct_cost(C.uintptr_t(token), C.int(kind), C.uint64_t(count)))
}

// PostWait makes one foreign_post_wait from the calling thread.
func PostWait(token uintptr, msg unsafe.Pointer, n uintptr, timeout time.Duration) int {
	return int(C.ct_post_wait(C.uintptr_t(token), msg, C.size_t(n), C.int64_t(timeout)))
}

// How a blocked thread is ended (EndBlocked).
const (
	EndCancel = int(C.CT_END_CANCEL) // pthread_cancel
	EndExit   = int(C.CT_END_EXIT)   // pthread_exit from a signal handler
)

// EndBlocked starts a C thread blocked with no limit in foreign_call (call
// true: Msg argument, uint64 result) or foreign_post_wait (a Msg), lets it
// sleep there for d, and ends it as end says. ended reports that it ended
// so, without its library call returning; rc is that call's code if it
// returned instead. An error means it had not ended 10 s later.
func EndBlocked(token uintptr, call bool, end int, d time.Duration) (ended bool, rc int, err error) {
	how := C.CT_BLOCK_POST
	if call {
		how = C.CT_BLOCK_CALL
	}
	var crc C.int
	switch C.ct_end_blocked(C.uintptr_t(token), C.int(how), C.int(end), C.int64_t(d), &crc) {
	case 0:
		return int(crc) == 1, int(crc), nil
	case 1:
		return false, int(crc), nil
	default:
		return false, 0, fmt.Errorf("the blocked thread did not end within 10 s")
	}
}

// NestedSignalCall makes a foreign_call with argument Msg{1, outer} on a C
// thread and, after d, a second one, Msg{2, inner}, from a signal handler
// interrupting that thread's call.
func NestedSignalCall(token uintptr, outer, inner uint64, d time.Duration) (outerRet uint64, outerRC int, innerRet uint64, innerRC int) {
	var or, ir C.uint64_t
	var orc, irc C.int
	C.ct_nested_signal_call(C.uintptr_t(token), C.uint64_t(outer), C.uint64_t(inner), C.int64_t(d), &or, &orc, &ir, &irc)
	return uint64(or), int(orc), uint64(ir), int(irc)
}

// ForkChild forks; the child calls every function of the ABI on the
// inherited tokens and reports, in its exit status, a bit for each that
// did not fail at once with FOREIGN_ECLOSED. -1: the child hung and was
// killed.
func ForkChild(queue, fn, intr, notifier uintptr) int {
	return int(C.ct_fork_child(C.uintptr_t(queue), C.uintptr_t(fn), C.uintptr_t(intr), C.uintptr_t(notifier)))
}
