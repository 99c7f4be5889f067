package main

// The //export baseline for SIGEV_THREAD: the notification thread calls
// into Go. glibc makes a new thread for every expiration, so every call
// enters the Go runtime from a thread it has never seen: the thread takes
// an M from the runtime's spare list (making one if there is none) and a P,
// and gives the M back when it exits.
//
// There is no baseline for SIGEV_SIGNAL: a signal handler must not call
// into Go (the runtime does not allow a cgo callback in signal context), so
// a signal handler that wants Go to know has no other way than a post.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "timers.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// tmExpired is called by on_thread (timers.c) for ThreadExport.
//
//export tmExpired
func tmExpired(h C.uintptr_t, e *C.tm_expiry) {
	t := cgo.Handle(h).Value().(*Timer)
	t.handler(*(*Expiry)(unsafe.Pointer(e)))
}
