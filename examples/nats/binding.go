package main

// The binding: a NATS subscription whose callback, on the delivery thread
// libnats starts for it, posts each message whole (a fixed header, the
// subject and the payload, gathered by foreign_postv) to a
// foreign.ByteQueue. The C half is natssub.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo pkg-config: libnats
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#include <stdlib.h>
#include "natssub.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// header is the fixed part of a message as the callback posts it; its
// layout is ns_hdr's (natssub.h). The subject and the payload follow it.
type header struct {
	Len        uint32 // payload bytes
	SubjectLen uint32
}

const headerSize = int(unsafe.Sizeof(header{}))

// The build fails here if header and ns_hdr differ in size: each array
// length is negative unless they agree. (Both fields are naturally
// aligned, so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(header{}) - C.sizeof_ns_hdr]struct{}
	_ [C.sizeof_ns_hdr - unsafe.Sizeof(header{})]struct{}
)

// Message is one NATS message, whole. Subject and Payload point into the
// queue's ring (Post) or into the natsMsg (Export): they are valid only
// until the handler returns, so copy what you keep.
type Message struct {
	Subject []byte
	Payload []byte
}

// decode splits a queue message into its header, subject and payload, in
// place. It reports false for one whose lengths do not add up, which only
// a bug can make.
func decode(b []byte) (Message, bool) {
	if len(b) < headerSize {
		return Message{}, false
	}
	var h header
	// A copy, not a cast: nothing here depends on how the ring aligns b.
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), b)
	s := headerSize + int(h.SubjectLen)
	if uint64(s)+uint64(h.Len) != uint64(len(b)) {
		return Message{}, false
	}
	return Message{Subject: b[headerSize:s:s], Payload: b[s:]}, true
}

// Mode is how the library's callback hands a message to Go.
type Mode int

const (
	// Post copies the message into a foreign.ByteQueue and returns; the
	// handler runs on the queue's goroutine. The delivery thread never
	// enters the Go runtime.
	Post Mode = C.NS_POST
	// Export calls the //export'ed natsDeliver (export.go), which runs the
	// handler on the delivery thread: the baseline the examples compare
	// against.
	Export Mode = C.NS_EXPORT
)

func (m Mode) String() string {
	switch m {
	case Post:
		return "post"
	case Export:
		return "export"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a Subscriber.
type Config struct {
	URL     string // nats://host:port
	Subject string
	Mode    Mode

	// Capacity is the size of the queue's ring in bytes (Post). 0 means
	// 4 MiB (or, for a larger MaxMessage, room for two of the largest).
	Capacity int
	// MaxMessage is the longest subject plus payload the queue takes
	// (Post); a longer message is refused (FOREIGN_EMSGSIZE) and counted
	// in Stats.Lost. 0 means 1 MiB + 4 KiB: the longest payload and
	// subject a nats-server with its default limits carries.
	MaxMessage int
	// Wait bounds how long the delivery thread waits for room when the
	// queue is full (Post); a post still refused then is counted in
	// Stats.Lost. 0 means 5 s.
	Wait time.Duration
	// Timings is how many callback durations to keep for Timings.
	Timings int
}

// Subscriber receives the messages of one subscription.
type Subscriber struct {
	c         *C.ns_sub
	q         *foreign.ByteQueue // Post
	h         cgo.Handle         // Export
	handler   func(Message)
	malformed atomic.Uint64 // queue messages decode refused
	once      sync.Once
	err       error // from Close

	mu      sync.Mutex // guards c against Close
	final   Stats      // after Close
	timings []uint64   // after Close
}

// Subscribe connects and subscribes, and returns once the server has the
// subscription; handler then gets every message, one at a time, in the
// order the library delivered them. The message is in place: its slices
// are valid only until handler returns.
//
// With Post, handler runs on a goroutine of the queue's and a panic in it
// is recovered and counted. With Export, it runs on the library's delivery
// thread, and a panic ends the program: it cannot unwind through C.
func Subscribe(cfg Config, handler func(Message)) (*Subscriber, error) {
	if cfg.Capacity == 0 {
		cfg.Capacity = 4 << 20
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = 1<<20 + 4<<10
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	s := &Subscriber{handler: handler}
	var target uintptr
	switch cfg.Mode {
	case Post:
		var err error
		s.q, err = foreign.NewByteQueue(s.deliver, foreign.ByteQueueConfig{
			Capacity: cfg.Capacity, MaxMessage: headerSize + cfg.MaxMessage, Name: "nats " + cfg.Subject,
		})
		if err != nil {
			return nil, fmt.Errorf("nats: subscribe: %w", err)
		}
		target = uintptr(s.q.Token())
	case Export:
		s.h = cgo.NewHandle(s)
		target = uintptr(s.h)
	default:
		return nil, fmt.Errorf("nats: subscribe: unknown mode %d", cfg.Mode)
	}
	curl, csubj := C.CString(cfg.URL), C.CString(cfg.Subject)
	defer C.free(unsafe.Pointer(curl))
	defer C.free(unsafe.Pointer(csubj))
	var errbuf [256]C.char
	var c *C.ns_sub
	if C.ns_sub_new(&c, curl, csubj, C.int(cfg.Mode), C.uintptr_t(target), C.int64_t(cfg.Wait),
		C.uint64_t(cfg.Timings), &errbuf[0], C.size_t(len(errbuf))) != 0 {
		s.release()
		return nil, fmt.Errorf("nats: subscribe: %s", C.GoString(&errbuf[0]))
	}
	s.c = c
	return s, nil
}

// deliver is the queue's handler: it hands the message, in place in the
// ring, to the subscriber's handler.
func (s *Subscriber) deliver(b []byte) {
	m, ok := decode(b)
	if !ok {
		s.malformed.Add(1)
		return
	}
	s.handler(m)
}

// Close drains the subscription (what libnats holds is delivered), then
// (Post) delivers what is still queued. When it returns without error the
// handler will not be called again.
func (s *Subscriber) Close() error {
	s.once.Do(func() {
		if C.ns_sub_stop(s.c, 10000) != 0 {
			// The callback may still run: keep everything it uses. The
			// queue is closed, so its posts are refused (and counted).
			s.err = fmt.Errorf("nats: close: the drain did not complete within 10 s")
			if s.q != nil {
				s.q.Close()
			}
			return
		}
		s.release()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.final = s.read()
		var p *C.uint64_t
		if n := C.ns_sub_timings(s.c, &p); n > 0 {
			s.timings = append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(p)), int(n))...)
		}
		C.ns_sub_free(s.c)
		s.c = nil
	})
	return s.err
}

// release closes the Go side: the queue, which delivers what it holds, or
// the handle.
func (s *Subscriber) release() {
	if s.q != nil {
		s.q.Close()
	}
	if s.h != 0 {
		s.h.Delete()
	}
}

// Stats counts what the callback did.
type Stats struct {
	Callbacks uint64        // messages the library delivered to the callback
	Waited    uint64        // posts that found the queue full and waited
	Lost      uint64        // posts refused even after waiting, or too long
	Dropped   int64         // messages libnats dropped before the callback
	LastErr   error         // why the last refused post was refused
	Malformed uint64        // queue messages whose lengths did not add up (a bug)
	Queue     foreign.Stats // Post: the queue's own counters

	// Hand-offs during which the delivery thread slept (it waited for
	// something: a P, the collector, room) or was preempted by the kernel.
	Slept, Preempted uint64
}

// Stats returns the subscriber's counters.
func (s *Subscriber) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return s.final
	}
	return s.read()
}

func (s *Subscriber) read() Stats {
	var st C.ns_stats
	C.ns_sub_stats(s.c, &st)
	out := Stats{
		Callbacks: uint64(st.callbacks), Waited: uint64(st.waited), Lost: uint64(st.lost),
		Dropped: int64(st.dropped), Slept: uint64(st.slept), Preempted: uint64(st.preempted),
		Malformed: s.malformed.Load(),
	}
	if st.last_code != 0 {
		out.LastErr = foreign.FromCode(int(st.last_code))
	}
	if s.q != nil {
		out.Queue = s.q.Stats()
	}
	return out
}

// Timings returns the callback durations kept (nanoseconds): how long the
// delivery thread spent handing each message over. Valid after Close.
func (s *Subscriber) Timings() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timings
}

// Publisher publishes messages: the example's source of traffic.
type Publisher struct {
	c *C.ns_pub
}

// NewPublisher connects a publishing client.
func NewPublisher(url string) (*Publisher, error) {
	curl := C.CString(url)
	defer C.free(unsafe.Pointer(curl))
	p := &Publisher{}
	var errbuf [256]C.char
	if C.ns_pub_new(&p.c, curl, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return nil, fmt.Errorf("nats: publisher: %s", C.GoString(&errbuf[0]))
	}
	return p, nil
}

// Send publishes payload on subject; libnats copies it into its buffer.
func (p *Publisher) Send(subject string, payload []byte) error {
	cs := C.CString(subject)
	defer C.free(unsafe.Pointer(cs))
	var ptr unsafe.Pointer
	if len(payload) > 0 {
		ptr = unsafe.Pointer(&payload[0])
	}
	if st := C.ns_pub_send(p.c, cs, ptr, C.int(len(payload))); st != 0 {
		return fmt.Errorf("nats: publish: %s", C.GoString(C.ns_strerror(st)))
	}
	return nil
}

// Flush waits until the server has everything sent.
func (p *Publisher) Flush(timeout time.Duration) error {
	if st := C.ns_pub_flush(p.c, C.int64_t(timeout.Milliseconds())); st != 0 {
		return fmt.Errorf("nats: flush: %s", C.GoString(C.ns_strerror(st)))
	}
	return nil
}

// Close disconnects.
func (p *Publisher) Close() {
	C.ns_pub_free(p.c)
	p.c = nil
}
