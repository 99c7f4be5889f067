// cgo.go: the package's only file that imports "C": the thin wrappers
// over the C in c/ (one translation unit, fq.c). None of them is on the
// message path: the Go producer and the consumer work on the shared memory
// directly.

package fq

/*
#cgo CFLAGS: -I${SRCDIR}/c -I${SRCDIR}/../.. -std=gnu11 -D_GNU_SOURCE
#cgo LDFLAGS: -lpthread
#cgo foreign_portable CFLAGS: -DFQ_PORTABLE
#include "fq.c"
*/
import "C"

import (
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Return codes of the C ABI (foreign.h).
const (
	CodeInval    = int(C.FOREIGN_EINVAL)
	CodeClosed   = int(C.FOREIGN_ECLOSED)
	CodeFull     = int(C.FOREIGN_EFULL)
	CodeTimedOut = int(C.FOREIGN_ETIMEDOUT)
	CodeDeadlock = int(C.FOREIGN_EDEADLK)
	CodePanic    = int(C.FOREIGN_EPANIC)
	CodeMsgSize  = int(C.FOREIGN_EMSGSIZE)
)

// Handle kinds (FQ_KIND_* in block.h).
const (
	KindQueue     = int(C.FQ_KIND_QUEUE)
	KindFunc      = int(C.FQ_KIND_FUNC)
	KindNotifier  = int(C.FQ_KIND_NOTIFIER)
	KindInterrupt = int(C.FQ_KIND_INTERRUPT)
)

// Limits.
const (
	PosBits     = posBits // ring positions count modulo 1<<PosBits
	MaxCapacity = int(C.FQ_MAX_CAPACITY)
	MaxMsgSize  = int(C.FQ_MAX_MSG)
	MaxRet      = int(C.FQ_MAX_RET)       // the largest result of a fixed size
	MaxRing     = int(C.FQ_MAX_RING)      // the most bytes of a ring
	MaxBytesMsg = int(C.FQ_MAX_BYTES_MSG) // a byte ring's longest message
	StampSize   = stampSize               // a message's stamp, when it has one
)

const (
	wakeEventfd = int(C.FQ_WAKE_EVENTFD)
	wakePipe    = int(C.FQ_WAKE_PIPE)
)

// cOpen allocates a control block and its ring.
func cOpen(a OpenArgs) (uintptr, *ctl, unsafe.Pointer, error) {
	ca := C.fq_open_args{
		msg_size:  C.uint64_t(a.MsgSize),
		capacity:  C.uint64_t(a.Capacity),
		start:     C.uint64_t(a.Start),
		wake_kind: C.int(wakeEventfd),
		kind:      C.int(a.Kind),
		call_arg:  C.int64_t(a.CallArg),
		call_ret:  C.int64_t(a.CallRet),
		handle_id: C.uint64_t(a.ID),
		workers:   C.uint32_t(a.Workers),
	}
	if a.Pipe {
		ca.wake_kind = C.int(wakePipe)
	}
	if a.WithFd {
		ca.with_fd = 1
	}
	if a.Bytes {
		ca.bytes = 1
	}
	if a.Stamp {
		ca.flags |= C.FQ_FLAG_STAMP
	}
	if a.Ready != nil {
		ca.loop_token = C.uint64_t(a.Ready.token)
	}
	var tok C.uintptr_t
	var c *C.fq_ctl
	if rc := C.fq_open(&ca, &tok, &c); rc != 0 {
		return 0, nil, nil, syscall.Errno(-rc)
	}
	return uintptr(tok), (*ctl)(unsafe.Pointer(c)), C.fq_cells(c), nil
}

func cc(c *ctl) *C.fq_ctl { return (*C.fq_ctl)(unsafe.Pointer(c)) }

// cKick wakes or schedules the consumer of the handle t names, if t is
// still its generation (fq_kick).
func cKick(t uintptr) { C.fq_kick(C.foreign_token(t)) }

// Trigger triggers the notifier or signals the interrupt t names; it
// returns a code of foreign.h.
func Trigger(t uintptr, kind, value int) int {
	return int(C.fq_trigger(C.foreign_token(t), C.int(kind), C.int(value)))
}

func cDrainSigFd(c *ctl) { C.fq_drain_sig_fd(cc(c)) }

func cReleaseGo(t uintptr) { C.fq_release_go(C.foreign_token(t)) }

// cClose closes the handle t names, if t is still its generation, and
// returns the final position; ok is false for a stale token.
func cClose(t uintptr) (final uint64, ok bool) {
	var f C.uint64_t
	rc := C.fq_close_token(C.foreign_token(t), &f)
	return uint64(f), rc == 0
}

func cServeEnter(server uintptr) uint64 { return uint64(C.fq_serve_enter(C.uint64_t(server))) }

func cServeLeave(old uint64) { C.fq_serve_leave(C.uint64_t(old)) }

// isServing reports whether the calling thread is serving server (a
// handle's own token, or a Loop's), at any depth of nesting.
func isServing(server uintptr) bool { return C.fq_is_serving(C.uint64_t(server)) != 0 }

// ServingAny reports whether the calling thread runs a handler of any
// handle (or an OnClose, or a Func's worker).
func ServingAny() bool { return C.fq_serving_any() != 0 }

func cSelfCall(t uintptr, c *ctl) int { return int(C.fq_self_call(C.foreign_token(t), cc(c))) }

func cSelfCallEnd(c *ctl) { C.fq_self_call_end(cc(c)) }

func cFree(t uintptr) { C.fq_free(C.uintptr_t(t)) }

func cSpace(c *ctl) { C.fq_space(cc(c)) }

func cSkipCallGens(n uint64) { C.fq_skip_call_gens(C.uint64_t(n)) }

func cUsingFutex() bool { return C.fq_using_futex() != 0 }

func cSetFutex(on bool) (was bool) {
	o := C.int(0)
	if on {
		o = 1
	}
	return C.fq_set_futex(o) != 0
}

// Complete hands a call's result to the C caller waiting in slot hdr. It
// reports true if the caller had given up (the result was dropped).
func Complete(hdr uint64, code int, ret unsafe.Pointer, n uintptr) bool {
	return C.fq_complete(C.uint64_t(hdr), C.int(code), ret, C.size_t(n)) != 0
}

// Strerror describes a return code (foreign_strerror).
func Strerror(code int) string { return C.GoString(C.foreign_strerror(C.int(code))) }

// Field is one field of the C control block (fq_layout).
type Field struct {
	Name         string
	Offset, Size uintptr
}

// cLayout returns every field of fq_ctl and its size.
func cLayout() ([]Field, uintptr) {
	var n C.size_t
	p := C.fq_layout(&n)
	cf := unsafe.Slice(p, int(n))
	out := make([]Field, len(cf))
	for i, f := range cf {
		out[i] = Field{C.GoString(f.name), uintptr(f.offset), uintptr(f.size)}
	}
	return out, unsafe.Sizeof(C.fq_ctl{})
}

// The protocol's constants, from block.h.
const (
	posBits    = C.FQ_POS_BITS
	posMask    = 1<<posBits - 1
	closedBit  = 1 << posBits
	genShift   = C.FQ_GEN_SHIFT
	sigPending = C.FQ_SIG_PENDING
	sigClosed  = C.FQ_SIG_CLOSED
	sigValue   = C.FQ_SIG_VALUE

	parkRunning = C.FQ_PARK_RUNNING
	parkParked  = C.FQ_PARK_PARKED
	parkWaking  = C.FQ_PARK_WAKING
	parkDead    = C.FQ_PARK_DEAD
	parkFutex   = C.FQ_PARK_FUTEX

	flagStamp = C.FQ_FLAG_STAMP
	stampSize = C.FQ_STAMP
)

// cNow is CLOCK_MONOTONIC in ns, as C producers stamp messages.
func cNow() int64 { return int64(C.fq_now_ns()) }

// futexPark says whether a consumer can park on the futex (block.h, "Park
// and wake"): on Linux, but for the portable build.
// It is cleared if the kernel refuses the futex.
var futexPark atomic.Bool

func init() { futexPark.Store(cFutexPark()) }

// cParkSleep sleeps while the park word is FQ_PARK_FUTEX, for at most d
// (negative: no limit), or returns spuriously; false if the kernel refused
// the futex.
func cParkSleep(c *ctl, d time.Duration) bool { return C.fq_sleep_parked(cc(c), C.int64_t(d)) == 0 }

func cRefuseFutex(on bool) {
	o := C.int(0)
	if on {
		o = 1
	}
	C.fq_refuse_futex(o)
}

func cFutexPark() bool { return C.fq_futex_park() != 0 }
