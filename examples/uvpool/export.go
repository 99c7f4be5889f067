package main

// The //export baseline: the work callback calls into Go on the pool thread,
// for the decision and for the result. Every call then enters the Go
// runtime there: the thread needs an M and a P (it waits for one while all
// are busy) and may be made to assist the garbage collector, and the Go
// functions run concurrently on the pool threads.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "uvpool.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// uvpDecide answers a work item's question on its pool thread.
//
//export uvpDecide
func uvpDecide(h C.uintptr_t, a *C.uvp_arg, d *C.uvp_decision) {
	j := cgo.Handle(h).Value().(*Job)
	*(*Decision)(unsafe.Pointer(d)) = j.Decide(*(*Arg)(unsafe.Pointer(a)))
}

// uvpResult takes a work item's result on its pool thread.
//
//export uvpResult
func uvpResult(h C.uintptr_t, r *C.uvp_result) {
	j := cgo.Handle(h).Value().(*Job)
	j.Handle(*(*Result)(unsafe.Pointer(r)))
}
