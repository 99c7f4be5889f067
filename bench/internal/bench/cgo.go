package bench

// The package's calls into C are the thin wrappers in this file; the C code
// itself is in harness.c. The ring's C ABI (foreign_post, ...) comes from
// the library, which the rest of this package imports; the C-only floor's
// consumer is the library's test consumer (internal/fq/c/cconsumer.c).

/*
#cgo CFLAGS: -I${SRCDIR}/../../.. -I${SRCDIR}/../../../internal/fq/c -Wall -Wextra
#cgo LDFLAGS: -lpthread
#include "foreign.h"
#include "harness.h"
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/fq"
)

// msg mirrors bh_msg in harness.h.
type msg struct {
	Seq      uint64
	Producer uint32
	Spare    uint32 // wake-pipe: the high half of the send ticks
}

// The two layouts must agree: each array length is negative, and so fails
// to compile, unless the sizes are equal.
var (
	_ [unsafe.Sizeof(msg{}) - C.sizeof_bh_msg]struct{}
	_ [C.sizeof_bh_msg - unsafe.Sizeof(msg{})]struct{}
)

// The C names of the strategies.
const (
	kindNoop       = int(C.BH_NOOP)
	kindForeign    = int(C.BH_FOREIGN)
	kindExport     = int(C.BH_EXPORT)
	kindExportChan = int(C.BH_EXPORT_CHAN)
	kindCRing      = int(C.BH_CRING)
	kindEventFD    = int(C.BH_EVENTFD)
	kindPipe       = int(C.BH_PIPE)
	kindAsync      = int(C.BH_ASYNC)
	kindCondVar    = int(C.BH_CONDVAR)
	kindCall       = int(C.BH_CALL)
	kindCallCV     = int(C.BH_CALL_CV)
	kindWake       = int(C.BH_WAKE)
	kindWakePipe   = int(C.BH_WAKE_PIPE)

	codeBadReply = int(C.BH_EBADREPLY)

	maxCapacity = fq.MaxCapacity
)

// nowNs reads CLOCK_MONOTONIC, the clock the C threads stamp with.
func nowNs() int64 { return int64(C.bh_now_ns()) }

// nsPerTick converts sample ticks to nanoseconds. The first call calibrates
// (20 ms).
func nsPerTick() float64 { return float64(C.bh_ns_per_tick()) }

// cProber is a prober thread (bh_prober).
type cProber struct{ p *C.bh_prober }

// burst is bh_burst.
type burst struct {
	accepted, rejected, failed, late uint64
	lastCode                         int
}

func newCProber(kind int, target uintptr, capacity int) (cProber, error) {
	var err C.int
	p := C.bh_prober_new(C.int(kind), C.uintptr_t(target), C.uint64_t(capacity), &err)
	if p == nil {
		return cProber{}, syscall.Errno(-err)
	}
	return cProber{p}, nil
}

// run makes one paced burst and blocks until it is over. The samples stay in
// C memory: see samples.
func (p cProber) run(warmup, events int, periodNs float64, here bool) (burst, error) {
	var b *C.bh_burst
	if here {
		b = C.bh_prober_run_here(p.p, C.uint64_t(warmup), C.uint64_t(events), C.double(periodNs))
	} else {
		b = C.bh_prober_run(p.p, C.uint64_t(warmup), C.uint64_t(events), C.double(periodNs))
	}
	if b == nil {
		return burst{}, syscall.EINVAL
	}
	return burst{
		accepted: uint64(b.accepted),
		rejected: uint64(b.rejected),
		failed:   uint64(b.failed),
		late:     uint64(b.late),
		lastCode: int(b.last_code),
	}, nil
}

// samples is the last burst's n samples, in ticks. The slice is C memory,
// valid until the next run or free: copy it.
func (p cProber) samples(n int) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(C.bh_prober_samples(p.p))), n)
}

func (p cProber) free() { C.bh_prober_free(p.p) }

// cTput is a set of throughput threads (bh_tput), and for the C-only
// floor the ring they post into.
type cTput struct {
	t    *C.bh_tput
	ring *fq.Handle
}

// tputResult is bh_tput_result.
type tputResult struct {
	startNs, endNs                   int64
	retries, sent, received, badSeqs uint64
	wakeups                          uint64
	badCode                          int
	prodEndNs                        int64
}

func newCTput(kind int, target uintptr, producers, messages, capacity int) (cTput, error) {
	var ring *fq.Handle
	var block unsafe.Pointer
	if kind == kindCRing {
		var err error
		ring, err = fq.Open(fq.OpenArgs{MsgSize: C.sizeof_bh_msg, Capacity: uintptr(capacity), Kind: fq.KindQueue})
		if err != nil {
			return cTput{}, err
		}
		target, block = ring.Token(), ring.Block()
	}
	var err C.int
	t := C.bh_tput_new(C.int(kind), C.uintptr_t(target), block, C.int(producers), C.uint64_t(messages), &err)
	if t == nil {
		if ring != nil {
			ring.Discard()
		}
		return cTput{}, syscall.Errno(-err)
	}
	return cTput{t, ring}, nil
}

func (t cTput) start() { C.bh_tput_start(t.t) }

// wait blocks for up to timeoutNs for the C consumer; see bh_tput_wait.
func (t cTput) wait(timeoutNs int64) bool { return C.bh_tput_wait(t.t, C.int64_t(timeoutNs)) != 0 }

func (t cTput) failed() bool { return C.bh_tput_failed(t.t) != 0 }

func (t cTput) abort() { C.bh_tput_abort(t.t) }

// finish joins the threads and frees them.
func (t cTput) finish() tputResult {
	var r C.bh_tput_result
	C.bh_tput_finish(t.t, &r)
	if t.ring != nil {
		t.ring.Free() // closed and drained by the C consumer
	}
	return tputResult{
		startNs:  int64(r.start_ns),
		endNs:    int64(r.end_ns),
		retries:  uint64(r.retries),
		sent:     uint64(r.sent),
		received: uint64(r.received),
		badSeqs:  uint64(r.out_of_order),
		wakeups:  uint64(r.wakeups),
		badCode:  int(r.bad_code),

		prodEndNs: int64(r.prod_end_ns),
	}
}

// strerror describes a C return code.
func strerror(code int) string {
	if code == codeBadReply {
		return "wrong reply from Go"
	}
	return C.GoString(C.foreign_strerror(C.int(code)))
}

// nowTicks reads the clock the samples are taken with.
func nowTicks() uint64 { return uint64(C.bh_now_ticks()) }

// newEventfd makes a non-blocking eventfd.
func newEventfd() (int, error) {
	fd := int(C.bh_eventfd())
	if fd < 0 {
		return -1, syscall.Errno(-fd)
	}
	return fd, nil
}

// cAsync is a bh_async.
type cAsync struct{ a *C.bh_async }

func newCAsync(fd int) (cAsync, error) {
	a := C.bh_async_new(C.int(fd))
	if a == nil {
		return cAsync{}, syscall.ENOMEM
	}
	return cAsync{a}, nil
}

func (a cAsync) target() uintptr { return uintptr(unsafe.Pointer(a.a)) }
func (a cAsync) take() uint64    { return uint64(C.bh_async_take(a.a)) }
func (a cAsync) latest() uint64  { return uint64(C.bh_async_latest(a.a)) }
func (a cAsync) free()           { C.bh_async_free(a.a) }

// cCondQueue is a bh_cvq with a C buffer for the consumer's batches.
type cCondQueue struct {
	q   *C.bh_cvq
	buf *C.bh_msg
}

const condBatch = 256

func newCCondQueue(capacity int) (cCondQueue, error) {
	var err C.int
	q := C.bh_cvq_new(C.uint64_t(capacity), &err)
	if q == nil {
		return cCondQueue{}, syscall.Errno(-err)
	}
	buf := (*C.bh_msg)(C.calloc(condBatch, C.sizeof_bh_msg))
	if buf == nil {
		C.bh_cvq_free(q)
		return cCondQueue{}, syscall.ENOMEM
	}
	return cCondQueue{q, buf}, nil
}

func (q cCondQueue) target() uintptr { return uintptr(unsafe.Pointer(q.q)) }

// pop blocks for a batch; nil once closed and empty. The slice is C memory,
// valid until the next pop.
func (q cCondQueue) pop() []msg {
	n := int(C.bh_cvq_pop(q.q, q.buf, condBatch))
	if n < 0 {
		return nil
	}
	return unsafe.Slice((*msg)(unsafe.Pointer(q.buf)), n)
}

func (q cCondQueue) close() { C.bh_cvq_close(q.q) }
func (q cCondQueue) free()  { C.free(unsafe.Pointer(q.buf)); C.bh_cvq_free(q.q) }

// cRPC is a bh_rpc.
type cRPC struct {
	r   *C.bh_rpc
	arg *C.uint64_t // C memory: a Go pointer would escape per call
}

func newCRPC() (cRPC, error) {
	var err C.int
	r := C.bh_rpc_new(&err)
	if r == nil {
		return cRPC{}, syscall.Errno(-err)
	}
	return cRPC{r, (*C.uint64_t)(C.malloc(8))}, nil
}

func (r cRPC) target() uintptr { return uintptr(unsafe.Pointer(r.r)) }

// serve answers the previous request with ret (not on the first call) and
// waits for the next; ok is false once closed.
func (r cRPC) serve(first bool, ret uint64) (arg uint64, ok bool) {
	f := C.int(0)
	if first {
		f = 1
	}
	if C.bh_rpc_serve(r.r, f, C.uint64_t(ret), r.arg) != 0 {
		return 0, false
	}
	return uint64(*r.arg), true
}

func (r cRPC) close() { C.bh_rpc_close(r.r) }
func (r cRPC) free()  { C.free(unsafe.Pointer(r.arg)); C.bh_rpc_free(r.r) }

// fresh runs bh_fresh into out (C memory of n samples) and returns its code.
func fresh(kind int, target uintptr, out []uint64) int {
	buf := (*C.uint64_t)(C.malloc(C.size_t(8 * max(len(out), 1))))
	defer C.free(unsafe.Pointer(buf))
	rc := int(C.bh_fresh(C.int(kind), C.uintptr_t(target), C.uint64_t(len(out)), buf))
	copy(out, unsafe.Slice((*uint64)(unsafe.Pointer(buf)), len(out)))
	return rc
}

// producersDone reports whether every producer has returned from its last
// send.
func (t cTput) producersDone() bool { return C.bh_tput_producers_done(t.t) != 0 }

// MeasureFloor measures a C-only floor (FutexWake or FutexPing): events
// times, one every gap, with the clock the other scenarios use.
func MeasureFloor(s Strategy, events int, gap time.Duration) (LatencyResult, []float64, error) {
	res := LatencyResult{Strategy: s}
	if events <= 0 {
		events = 1000
	}
	pingpong := C.int(0)
	switch s {
	case FutexWake:
	case FutexPing:
		pingpong = 1
	default:
		return res, nil, fmt.Errorf("bench: %q is not a floor", s)
	}
	ticks := make([]uint64, events)
	if rc := C.bh_futex_floor(pingpong, C.int(events), C.int64_t(gap), (*C.uint64_t)(unsafe.Pointer(&ticks[0]))); rc != 0 {
		return res, nil, syscall.Errno(-rc)
	}
	const warmup = 16
	if len(ticks) > warmup {
		ticks = ticks[warmup:]
	}
	res.Accepted, res.Delivered = uint64(events), uint64(events)
	summarize(&res, ticks, nsPerTick(), 0)
	return res, toNs(ticks, nsPerTick(), 0), nil
}

// cBlock is a gate goroutines block on in C (LoadBlockedC).
type cBlock struct{ b *C.bh_block }

func newCBlock() cBlock { return cBlock{C.bh_block_new()} }

func (b cBlock) wait() { C.bh_block_wait(b.b) }

// waitBlocked returns once n callers are inside wait.
func (b cBlock) waitBlocked(n int) {
	for int(C.bh_block_blocked(b.b)) < n {
		time.Sleep(100 * time.Microsecond)
	}
}

func (b cBlock) release() { C.bh_block_release(b.b) }
func (b cBlock) free()    { C.bh_block_free(b.b) }

// startSpinner starts a C thread that spins until stop is called
// (bh_spinner).
func startSpinner() (stop func(), err error) {
	s := C.bh_spinner_start()
	if s == nil {
		return nil, errors.New("bench: no spinner thread")
	}
	return func() { C.bh_spinner_stop(s) }, nil
}
