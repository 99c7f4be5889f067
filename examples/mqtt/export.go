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
// subscriber's handle, the header the callback made (on the network
// thread's stack) and libmosquitto's topic and payload, which it frees when
// the callback returns: the handler gets them in place, valid until it
// returns, as from the queue.
//
//export mqttDeliver
func mqttDeliver(hd C.uintptr_t, h *C.mq_hdr, topic *C.char, payload unsafe.Pointer) {
	s := cgo.Handle(hd).Value().(*Subscriber)
	hdr := (*header)(unsafe.Pointer(h))
	s.handler(hdr.message(
		unsafe.Slice((*byte)(unsafe.Pointer(topic)), hdr.TopicLen),
		unsafe.Slice((*byte)(payload), hdr.Len),
	))
}
