package bench

// The Go functions the C threads call. A file with //export may only declare
// in its preamble (cgo copies the preamble into two C files), so this one
// includes a header and nothing else.

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import "unsafe"

// bhGoCall is the export strategy's call: a Go function with a reply the C
// side checks, so that the call cannot be skipped or answered wrongly
// unnoticed, and no Go state that would need synchronising.
//
//export bhGoCall
func bhGoCall(seq C.uint64_t) C.uint64_t { return seq + 1 }

// bhGoSend is the export+chan strategy's call: send the message to the
// goroutine that drains sink number sink. It blocks while the channel is
// full, as such a callback would.
//
//export bhGoSend
func bhGoSend(sink C.uintptr_t, seq C.uint64_t, producer C.uint32_t) {
	sinks[sink].Load().ch <- msg{Seq: uint64(seq), Producer: uint32(producer)}
}

// bhGoBytes is the export+GoBytes strategy's call: copy the C bytes into a
// new Go slice with C.GoBytes and send it to the goroutine that drains
// byte sink number sink, blocking while the channel is full.
//
//export bhGoBytes
func bhGoBytes(sink C.uintptr_t, p unsafe.Pointer, n C.size_t) {
	byteSinks[sink].Load().ch <- C.GoBytes(p, C.int(n))
}

// bhGoPool is the export+pool strategy's call: copy the C bytes into a
// buffer from a sync.Pool, which the consumer puts back once it is done
// with it, and send it on the channel.
//
//export bhGoPool
func bhGoPool(sink C.uintptr_t, p unsafe.Pointer, n C.size_t) {
	s := byteSinks[sink].Load()
	b := s.pool.Get().(*[]byte)
	*b = append((*b)[:0], unsafe.Slice((*byte)(p), int(n))...)
	s.pch <- b
}
