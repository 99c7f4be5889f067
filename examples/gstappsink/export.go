package main

// The //export baseline: the same callback, but it calls into Go on the
// streaming thread instead of posting. Every frame then enters the Go
// runtime there: the thread needs an M and a P (it waits for one while all
// are busy) and may be made to assist the garbage collector, and the
// handler's own time is spent on it too.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "appsink.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// gstDeliver is called by on_new_sample (appsink.c) in Export mode with
// the handler's handle, the header the callback made and the mapped
// buffer's bytes, which are unmapped when this returns: the handler gets
// them in place, valid until it returns, as from the queue.
//
//export gstDeliver
func gstDeliver(hd C.uintptr_t, h *C.gs_hdr, data unsafe.Pointer) {
	handler := cgo.Handle(hd).Value().(func(Frame))
	hdr := (*header)(unsafe.Pointer(h))
	handler(hdr.frame(unsafe.Slice((*byte)(data), hdr.Size)))
}
