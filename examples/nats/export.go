package main

// The //export baseline: the same callback, but it calls into Go on the
// library's delivery thread instead of posting. Every message then enters
// the Go runtime there: the thread needs an M and a P (it waits for one
// while all are busy) and may be made to assist the garbage collector, and
// the handler's own time is spent on it too.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "natssub.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// natsDeliver is called by on_msg (natssub.c) in Export mode with the
// subscriber's handle, the header the callback made (on the delivery
// thread's stack) and the natsMsg's subject and payload, which the callback
// destroys when this returns: the handler gets them in place, valid until
// it returns, as from the queue.
//
//export natsDeliver
func natsDeliver(hd C.uintptr_t, h *C.ns_hdr, subject, data *C.char) {
	s := cgo.Handle(hd).Value().(*Subscriber)
	s.handler(Message{
		Subject: unsafe.Slice((*byte)(unsafe.Pointer(subject)), h.subject_len),
		Payload: unsafe.Slice((*byte)(unsafe.Pointer(data)), h.len),
	})
}
