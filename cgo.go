package foreign

// This is the only file of the package that imports "C": the library's calls
// into C are the thin wrappers below. None of them is on the message path;
// Post and the consumer work on the shared memory directly (ring.go).

/*
#include "foreign.h"
#include "ring.h"
#include "wait.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// Return codes of the C ABI (foreign.h).
const (
	codeInval    = int(C.FOREIGN_EINVAL)
	codeClosed   = int(C.FOREIGN_ECLOSED)
	codeFull     = int(C.FOREIGN_EFULL)
	codeTimedOut = int(C.FOREIGN_ETIMEDOUT)
	codeDeadlock = int(C.FOREIGN_EDEADLK)
	codePanic    = int(C.FOREIGN_EPANIC)
)

const (
	wakeEventfd = int(C.FQ_WAKE_EVENTFD)
	wakePipe    = int(C.FQ_WAKE_PIPE)
	maxCapacity = int(C.FQ_MAX_CAPACITY)
	maxMsgSize  = int(C.FQ_MAX_MSG)
)

// cOpen allocates a control block and its ring.
func cOpen(a openArgs, id uint64) (Token, *ctl, unsafe.Pointer, error) {
	ca := C.fq_open_args{
		msg_size:  C.uint64_t(a.msgSize),
		capacity:  C.uint64_t(a.capacity),
		start:     C.uint64_t(a.start),
		wake_kind: C.int(a.wakeKind),
		kind:      C.int(a.kind),
		call_arg:  C.int64_t(a.callArg),
		call_ret:  C.int64_t(a.callRet),
		handle_id: C.uint64_t(id),
	}
	if a.withFd {
		ca.with_fd = 1
	}
	if a.loop != nil {
		ca.loop_token = C.uint64_t(a.loop.Token())
	}
	ca.workers = C.uint32_t(a.workers)
	var tok C.uintptr_t
	var c *C.fq_ctl
	if rc := C.fq_open_handle(&ca, &tok, &c); rc != 0 {
		return 0, nil, nil, syscall.Errno(-rc)
	}
	return Token(tok), (*ctl)(unsafe.Pointer(c)), C.fq_cells(c), nil
}

// Handle kinds (FQ_KIND_* in ring.h).
const (
	kindQueue     = int(C.FQ_KIND_QUEUE)
	kindFunc      = int(C.FQ_KIND_FUNC)
	kindNotifier  = int(C.FQ_KIND_NOTIFIER)
	kindInterrupt = int(C.FQ_KIND_INTERRUPT)
)

// cKick wakes or schedules the consumer of the handle t names, if t is
// still its generation (fq_kick).
func cKick(t Token) { C.fq_kick(C.foreign_token(t)) }

// cTrigger triggers a notifier or signals an interrupt.
func cTrigger(t Token, kind, value int) int {
	return int(C.fq_trigger(C.foreign_token(t), C.int(kind), C.int(value)))
}

// cDrainSigFd empties an interrupt's fd once its pending value is taken.
func cDrainSigFd(c *ctl) { C.fq_drain_sig_fd((*C.fq_ctl)(unsafe.Pointer(c))) }

// cReleaseGo drops the Go side's reference (fq_release_go).
func cReleaseGo(t Token) int { return int(C.fq_release_go(C.foreign_token(t))) }

// cClose closes the handle t names, if t is still its generation, and
// returns the final position; ok is false for a stale token.
func cClose(t Token) (final uint64, ok bool) {
	var f C.uint64_t
	rc := C.fq_close_token(C.foreign_token(t), &f)
	return uint64(f), rc == 0
}

// cServeEnter marks the calling thread as serving server and returns what
// it served before, for cServeLeave. The goroutine must be locked to its
// thread in between.
func cServeEnter(server Token) uint64 { return uint64(C.fq_serve_enter(C.uint64_t(server))) }

func cServeLeave(old uint64) { C.fq_serve_leave(C.uint64_t(old)) }

// cServing returns the server token the calling thread is serving, or 0.
func cServing() Token { return Token(C.fq_serving()) }

// cSelfCall decides a call into t from this thread (fq_self_call): 0 an
// ordinary call, 1 an allowed nested call (end it with cSelfCallEnd), or
// codeDeadlock.
func cSelfCall(t Token, c *ctl) int {
	return int(C.fq_self_call(C.foreign_token(t), (*C.fq_ctl)(unsafe.Pointer(c))))
}

func cSelfCallEnd(c *ctl) { C.fq_self_call_end((*C.fq_ctl)(unsafe.Pointer(c))) }

// cFree releases the ring and recycles the control block. The consumer must
// have drained every claimed cell first.
func cFree(t Token) { C.fq_free(C.uintptr_t(t)) }

// cSpace tells C threads waiting for room that the consumer made some.
func cSpace(c *ctl) { C.fq_space((*C.fq_ctl)(unsafe.Pointer(c))) }

// cSetFutex switches the C waits between futex(2) and the portable
// condition-variable fallback; the tests run both.
func cSetFutex(on bool) (was bool) {
	was = C.fq_use_futex != 0
	C.fq_use_futex = 0
	if on {
		C.fq_use_futex = 1
	}
	return was
}

// cComplete hands a call's result to the C caller waiting in slot hdr. It
// reports true if the caller had given up (the result was dropped).
func cComplete(hdr uint64, code int, ret unsafe.Pointer, n uintptr) bool {
	return C.fq_complete(C.uint64_t(hdr), C.int(code), ret, C.size_t(n)) != 0
}

// cStrerror describes a C return code.
func cStrerror(code int) string { return C.GoString(C.foreign_strerror(C.int(code))) }

// cPost calls the C post path; tests and benchmarks use it to compare.
func cPost(t Token, p unsafe.Pointer, n uintptr) int {
	return int(C.foreign_post(C.foreign_token(t), p, C.size_t(n)))
}

// The Go mirror of fq_ctl (ring.go) must match the C layout. Each pair of
// array lengths below is negative, and so fails to compile, unless the Go
// and C offsets are equal.
var (
	_ [unsafe.Offsetof(ctl{}.tail) - C.FQ_OFF_TAIL]struct{}
	_ [C.FQ_OFF_TAIL - unsafe.Offsetof(ctl{}.tail)]struct{}
	_ [unsafe.Offsetof(ctl{}.headCache) - C.FQ_OFF_HEAD_CACHE]struct{}
	_ [C.FQ_OFF_HEAD_CACHE - unsafe.Offsetof(ctl{}.headCache)]struct{}
	_ [unsafe.Offsetof(ctl{}.ring) - C.FQ_OFF_RING]struct{}
	_ [C.FQ_OFF_RING - unsafe.Offsetof(ctl{}.ring)]struct{}
	_ [unsafe.Offsetof(ctl{}.mask) - C.FQ_OFF_MASK]struct{}
	_ [C.FQ_OFF_MASK - unsafe.Offsetof(ctl{}.mask)]struct{}
	_ [unsafe.Offsetof(ctl{}.cellSize) - C.FQ_OFF_CELL_SIZE]struct{}
	_ [C.FQ_OFF_CELL_SIZE - unsafe.Offsetof(ctl{}.cellSize)]struct{}
	_ [unsafe.Offsetof(ctl{}.msgSize) - C.FQ_OFF_MSG_SIZE]struct{}
	_ [C.FQ_OFF_MSG_SIZE - unsafe.Offsetof(ctl{}.msgSize)]struct{}
	_ [unsafe.Offsetof(ctl{}.start) - C.FQ_OFF_START]struct{}
	_ [C.FQ_OFF_START - unsafe.Offsetof(ctl{}.start)]struct{}
	_ [unsafe.Offsetof(ctl{}.wakeFd) - C.FQ_OFF_WAKE_FD]struct{}
	_ [C.FQ_OFF_WAKE_FD - unsafe.Offsetof(ctl{}.wakeFd)]struct{}
	_ [unsafe.Offsetof(ctl{}.wakeKind) - C.FQ_OFF_WAKE_KIND]struct{}
	_ [C.FQ_OFF_WAKE_KIND - unsafe.Offsetof(ctl{}.wakeKind)]struct{}
	_ [unsafe.Offsetof(ctl{}.head) - C.FQ_OFF_HEAD]struct{}
	_ [C.FQ_OFF_HEAD - unsafe.Offsetof(ctl{}.head)]struct{}
	_ [unsafe.Offsetof(ctl{}.highWater) - C.FQ_OFF_HIGH_WATER]struct{}
	_ [C.FQ_OFF_HIGH_WATER - unsafe.Offsetof(ctl{}.highWater)]struct{}
	_ [unsafe.Offsetof(ctl{}.park) - C.FQ_OFF_PARK]struct{}
	_ [C.FQ_OFF_PARK - unsafe.Offsetof(ctl{}.park)]struct{}
	_ [unsafe.Offsetof(ctl{}.rejectedFull) - C.FQ_OFF_REJECTED_FULL]struct{}
	_ [C.FQ_OFF_REJECTED_FULL - unsafe.Offsetof(ctl{}.rejectedFull)]struct{}
	_ [unsafe.Offsetof(ctl{}.rejectedClosed) - C.FQ_OFF_REJECTED_CLOSED]struct{}
	_ [C.FQ_OFF_REJECTED_CLOSED - unsafe.Offsetof(ctl{}.rejectedClosed)]struct{}
	_ [unsafe.Offsetof(ctl{}.wakeups) - C.FQ_OFF_WAKEUPS]struct{}
	_ [C.FQ_OFF_WAKEUPS - unsafe.Offsetof(ctl{}.wakeups)]struct{}
	_ [unsafe.Offsetof(ctl{}.readFd) - C.FQ_OFF_READ_FD]struct{}
	_ [C.FQ_OFF_READ_FD - unsafe.Offsetof(ctl{}.readFd)]struct{}
	_ [unsafe.Offsetof(ctl{}.callRet) - C.FQ_OFF_CALL_RET]struct{}
	_ [C.FQ_OFF_CALL_RET - unsafe.Offsetof(ctl{}.callRet)]struct{}
	_ [unsafe.Offsetof(ctl{}.timedOut) - C.FQ_OFF_TIMED_OUT]struct{}
	_ [C.FQ_OFF_TIMED_OUT - unsafe.Offsetof(ctl{}.timedOut)]struct{}
	_ [unsafe.Offsetof(ctl{}.callArg) - C.FQ_OFF_CALL_ARG]struct{}
	_ [C.FQ_OFF_CALL_ARG - unsafe.Offsetof(ctl{}.callArg)]struct{}
	_ [unsafe.Offsetof(ctl{}.workers) - C.FQ_OFF_WORKERS]struct{}
	_ [C.FQ_OFF_WORKERS - unsafe.Offsetof(ctl{}.workers)]struct{}
	_ [unsafe.Offsetof(ctl{}.nested) - C.FQ_OFF_NESTED]struct{}
	_ [C.FQ_OFF_NESTED - unsafe.Offsetof(ctl{}.nested)]struct{}
	_ [unsafe.Offsetof(ctl{}.spaceSeq) - C.FQ_OFF_SPACE_SEQ]struct{}
	_ [C.FQ_OFF_SPACE_SEQ - unsafe.Offsetof(ctl{}.spaceSeq)]struct{}
	_ [unsafe.Offsetof(ctl{}.waiters) - C.FQ_OFF_WAITERS]struct{}
	_ [C.FQ_OFF_WAITERS - unsafe.Offsetof(ctl{}.waiters)]struct{}
	_ [unsafe.Offsetof(ctl{}.kind) - C.FQ_OFF_KIND]struct{}
	_ [C.FQ_OFF_KIND - unsafe.Offsetof(ctl{}.kind)]struct{}
	_ [unsafe.Offsetof(ctl{}.scheduled) - C.FQ_OFF_SCHEDULED]struct{}
	_ [C.FQ_OFF_SCHEDULED - unsafe.Offsetof(ctl{}.scheduled)]struct{}
	_ [unsafe.Offsetof(ctl{}.loopToken) - C.FQ_OFF_LOOP_TOKEN]struct{}
	_ [C.FQ_OFF_LOOP_TOKEN - unsafe.Offsetof(ctl{}.loopToken)]struct{}
	_ [unsafe.Offsetof(ctl{}.handleID) - C.FQ_OFF_HANDLE_ID]struct{}
	_ [C.FQ_OFF_HANDLE_ID - unsafe.Offsetof(ctl{}.handleID)]struct{}
	_ [unsafe.Offsetof(ctl{}.sig) - C.FQ_OFF_SIG]struct{}
	_ [C.FQ_OFF_SIG - unsafe.Offsetof(ctl{}.sig)]struct{}
	_ [unsafe.Offsetof(ctl{}.sigFd) - C.FQ_OFF_SIG_FD]struct{}
	_ [C.FQ_OFF_SIG_FD - unsafe.Offsetof(ctl{}.sigFd)]struct{}
	_ [unsafe.Offsetof(ctl{}.sigInflight) - C.FQ_OFF_SIG_INFLIGHT]struct{}
	_ [C.FQ_OFF_SIG_INFLIGHT - unsafe.Offsetof(ctl{}.sigInflight)]struct{}
	_ [unsafe.Offsetof(ctl{}.refs) - C.FQ_OFF_REFS]struct{}
	_ [C.FQ_OFF_REFS - unsafe.Offsetof(ctl{}.refs)]struct{}
	_ [sigPending - C.FQ_SIG_PENDING]struct{}
	_ [C.FQ_SIG_PENDING - sigPending]struct{}
	_ [sigClosed - C.FQ_SIG_CLOSED]struct{}
	_ [C.FQ_SIG_CLOSED - sigClosed]struct{}
	_ [unsafe.Sizeof(ctl{}) - C.FQ_CTL_SIZE]struct{}
	_ [C.FQ_CTL_SIZE - unsafe.Sizeof(ctl{})]struct{}

	_ [posBits - C.FQ_POS_BITS]struct{}
	_ [C.FQ_POS_BITS - posBits]struct{}
	_ [genShift - C.FQ_GEN_SHIFT]struct{}
	_ [C.FQ_GEN_SHIFT - genShift]struct{}
	_ [parkDead - C.FQ_PARK_DEAD]struct{}
	_ [C.FQ_PARK_DEAD - parkDead]struct{}
	_ [parkWaking - C.FQ_PARK_WAKING]struct{}
	_ [C.FQ_PARK_WAKING - parkWaking]struct{}
	_ [parkParked - C.FQ_PARK_PARKED]struct{}
	_ [C.FQ_PARK_PARKED - parkParked]struct{}
)
