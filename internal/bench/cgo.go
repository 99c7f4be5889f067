package bench

// The package's calls into C are the thin wrappers in this file; the C code
// itself is in harness.c. The ring's C symbols (foreign_post, fq_open, ...)
// come from the root package, which the rest of this package imports.

/*
#cgo CFLAGS: -I${SRCDIR}/../.. -Wall -Wextra
#cgo LDFLAGS: -lpthread
#include "foreign.h"
#include "ring.h"
#include "harness.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// msg mirrors bh_msg in harness.h.
type msg struct {
	Seq      uint64
	Producer uint32
	_        uint32
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

	codeBadReply = int(C.BH_EBADREPLY)

	maxCapacity = int(C.FQ_MAX_CAPACITY)
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
func (p cProber) run(warmup, events int, periodNs float64) (burst, error) {
	b := C.bh_prober_run(p.p, C.uint64_t(warmup), C.uint64_t(events), C.double(periodNs))
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

// cTput is a set of throughput threads (bh_tput).
type cTput struct{ t *C.bh_tput }

// tputResult is bh_tput_result.
type tputResult struct {
	startNs, endNs                   int64
	retries, sent, received, badSeqs uint64
	wakeups                          uint64
	badCode                          int
}

func newCTput(kind int, target uintptr, producers, messages, capacity int) (cTput, error) {
	var err C.int
	t := C.bh_tput_new(C.int(kind), C.uintptr_t(target), C.int(producers), C.uint64_t(messages),
		C.uint64_t(capacity), &err)
	if t == nil {
		return cTput{}, syscall.Errno(-err)
	}
	return cTput{t}, nil
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
	return tputResult{
		startNs:  int64(r.start_ns),
		endNs:    int64(r.end_ns),
		retries:  uint64(r.retries),
		sent:     uint64(r.sent),
		received: uint64(r.received),
		badSeqs:  uint64(r.out_of_order),
		wakeups:  uint64(r.wakeups),
		badCode:  int(r.bad_code),
	}
}

// strerror describes a C return code.
func strerror(code int) string {
	if code == codeBadReply {
		return "wrong reply from Go"
	}
	return C.GoString(C.foreign_strerror(C.int(code)))
}
