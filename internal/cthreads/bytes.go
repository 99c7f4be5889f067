// bytes.go: C threads posting into byte queues (bytes.c).

package cthreads

/*
#include <stdlib.h>
#include "bytes.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"
)

// How a byte producer posts (CT_BYTES_* in bytes.h).
const (
	BytesPost  = int(C.CT_BYTES_POST)
	BytesPostv = int(C.CT_BYTES_POSTV)
	BytesWait  = int(C.CT_BYTES_WAIT)
	BytesMixed = int(C.CT_BYTES_MIXED)
)

// BytesHdr is the size of the header of every byte producer's message:
// producer u32, len u32 (the whole message's), seq u64.
const BytesHdr = int(C.sizeof_ct_bytes_hdr)

// BytesLen is the length of message seq of producer, as the threads pick it.
func BytesLen(producer uint32, seq uint64, min, max int) int {
	return int(C.ct_bytes_len(C.uint32_t(producer), C.uint64_t(seq), C.size_t(min), C.size_t(max)))
}

// BytesFill writes the payload pattern of message seq of producer.
func BytesFill(p []byte, producer uint32, seq uint64) {
	if len(p) == 0 {
		return
	}
	C.ct_bytes_fill((*C.uchar)(unsafe.Pointer(&p[0])), C.size_t(len(p)), C.uint32_t(producer), C.uint64_t(seq))
}

// CheckBytes checks a message a byte producer posted: its header, length
// and pattern. It returns the producer and the sequence number.
func CheckBytes(m []byte) (producer uint32, seq uint64, err error) {
	if len(m) < BytesHdr {
		return 0, 0, fmt.Errorf("message of %d bytes, shorter than its header", len(m))
	}
	producer = binary.LittleEndian.Uint32(m)
	n := binary.LittleEndian.Uint32(m[4:])
	seq = binary.LittleEndian.Uint64(m[8:])
	if int(n) != len(m) {
		return producer, seq, fmt.Errorf("producer %d seq %d: length %d, header says %d", producer, seq, len(m), n)
	}
	want := make([]byte, len(m)-BytesHdr)
	BytesFill(want, producer, seq)
	if string(want) != string(m[BytesHdr:]) {
		return producer, seq, fmt.Errorf("producer %d seq %d: payload differs", producer, seq)
	}
	return producer, seq, nil
}

// ByteProducers is a running set of byte producer threads.
type ByteProducers struct {
	p *C.ct_bytes
	n int
}

// StartBytes runs n threads; thread i posts count messages as producer
// firstID+i, of lengths in [min, max] (at least BytesHdr), the way how says.
func StartBytes(token uintptr, n int, firstID uint32, count uint64, min, max, how int) *ByteProducers {
	return &ByteProducers{C.ct_bytes_start(C.uintptr_t(token), C.int(n), C.uint32_t(firstID), C.uint64_t(count),
		C.size_t(min), C.size_t(max), C.int(how)), n}
}

// Wait joins the threads: each one's count of accepted posts, and an
// error if one got an unexpected code.
func (b *ByteProducers) Wait() ([]uint64, error) {
	acc := make([]uint64, b.n)
	var bad C.int
	if C.ct_bytes_join(b.p, (*C.uint64_t)(unsafe.Pointer(&acc[0])), &bad) != 0 {
		return acc, fmt.Errorf("byte producer got return code %d", int(bad))
	}
	return acc, nil
}

// parts copies the parts into C memory (the C side keeps no pointer).
func parts(ps [][]byte) (bases **C.void, lens *C.size_t, free func()) {
	n := len(ps)
	if n == 0 {
		return nil, nil, func() {}
	}
	b := (*[1 << 20]unsafe.Pointer)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))[:n:n]
	l := (*[1 << 20]C.size_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.size_t(0)))))[:n:n]
	for i, p := range ps {
		if p != nil {
			b[i] = C.CBytes(p)
		}
		l[i] = C.size_t(len(p))
	}
	return (**C.void)(unsafe.Pointer(&b[0])), &l[0], func() {
		for _, p := range b {
			C.free(p)
		}
		C.free(unsafe.Pointer(&b[0]))
		C.free(unsafe.Pointer(&l[0]))
	}
}

// Postv posts the parts with foreign_postv (a nil part is a NULL base).
func Postv(token uintptr, ps ...[]byte) int {
	b, l, free := parts(ps)
	defer free()
	return int(C.ct_postv(C.uintptr_t(token), (*unsafe.Pointer)(unsafe.Pointer(b)), l, C.int(len(ps))))
}

// PostvWait posts the parts with foreign_postv_wait.
func PostvWait(token uintptr, timeoutNs int64, ps ...[]byte) int {
	b, l, free := parts(ps)
	defer free()
	return int(C.ct_postv_wait(C.uintptr_t(token), (*unsafe.Pointer)(unsafe.Pointer(b)), l, C.int(len(ps)),
		C.int64_t(timeoutNs)))
}

// Callv calls with foreign_callv from this (Go) thread: the result, its
// length as the call reported it, and the code. retcap is the buffer's size.
func Callv(token uintptr, arg []byte, retcap int, timeoutNs int64) ([]byte, int, int) {
	var a unsafe.Pointer
	if arg != nil {
		a = C.CBytes(arg)
		defer C.free(a)
	}
	r := C.malloc(C.size_t(max(retcap, 1)))
	defer C.free(r)
	var n C.size_t
	rc := C.ct_callv(C.uintptr_t(token), a, C.size_t(len(arg)), r, C.size_t(retcap), &n, C.int64_t(timeoutNs))
	runtime.KeepAlive(arg)
	out := C.GoBytes(r, C.int(min(int(n), retcap)))
	return out, int(n), int(rc)
}

// CallvThreads runs n threads making count calls each with foreign_callv
// into a function that answers with its argument twice (see bytes.h); it
// returns the calls answered, those refused for a short buffer, and the
// first bad code.
func CallvThreads(token uintptr, n int, count uint64, max int, timeoutNs int64) (ok, short uint64, bad int) {
	var o, s C.uint64_t
	rc := C.ct_callv_threads(C.uintptr_t(token), C.int(n), C.uint64_t(count), C.size_t(max), C.int64_t(timeoutNs), &o, &s)
	return uint64(o), uint64(s), int(rc)
}
