package main

// The //export baseline: the same callback, but it calls into Go on the
// audio thread instead of asking with foreign_callv. Every buffer then
// enters the Go runtime there: the thread needs an M and a P (it waits for
// one while all are busy) and may be made to assist the garbage collector,
// and the render function's own time is spent on it too, with no bound: a
// slow render stalls the audio thread, and no silence can be played in
// time instead.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "sdlaudio.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// sdlRender is called by on_audio (sdlaudio.c) in Export mode with the
// device's handle, the request and SDL's stream, req.len bytes: the buffer
// is rendered into it in place and its length returned.
//
//export sdlRender
func sdlRender(hd C.uintptr_t, req *C.sa_req, stream *C.uchar) C.size_t {
	d := cgo.Handle(hd).Value().(*Device)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(stream)), req.len)
	// Render appends to buf[:0]: in place while it stays within the
	// buffer, and copied if it returned another slice.
	return C.size_t(copy(buf, d.render(*(*Request)(unsafe.Pointer(req)), buf[:0])))
}
