package main

// The //export baseline: the same callback, but it calls into Go on the
// library's network thread instead of posting. Every message then enters
// the Go runtime there: the thread needs an M and a P (it waits for one
// while all are busy) and may be made to assist the garbage collector, and
// the handler's own time is spent on it too.
//
// A file with //export may only declare in its preamble: cgo copies the
// preamble into two C files, so a definition here would be defined twice.

/*
#include "mqtt.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// mqttDeliver is called by on_message (mqtt.c) in Export mode with the
// subscriber's handle and the message the callback copied, which lives on
// the network thread's stack: the handler gets a copy.
//
//export mqttDeliver
func mqttDeliver(h C.uintptr_t, m *C.mq_msg) {
	s := cgo.Handle(h).Value().(*Subscriber)
	s.handler(*(*Message)(unsafe.Pointer(m)))
}
