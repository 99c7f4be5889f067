package main

// The binding: a NATS subscription whose callback, on the delivery thread
// libnats starts for it, copies each message into a fixed-size Message and
// posts it to a foreign.Queue. The C half is natssub.c.

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
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// Limits of a Message: what the callback keeps of a subject and a payload.
const (
	MaxSubject = C.NS_SUBJECT_MAX
	MaxPayload = C.NS_PAYLOAD_MAX
)

// Message is one NATS message as the callback copied it; its layout is
// ns_msg's (natssub.h). A queue carries fixed-size messages, so the payload
// is bounded: a longer one is cut to MaxPayload bytes and flagged.
type Message struct {
	Len        uint32 // payload length as published
	SubjectLen uint16
	Flags      uint8 // truncated, subject cut
	_          uint8
	subject    [MaxSubject]byte
	data       [MaxPayload]byte
}

// The build fails here if Message and ns_msg differ in size or in where
// the payload starts: each array length is negative unless they agree.
var (
	_ [unsafe.Sizeof(Message{}) - C.sizeof_ns_msg]struct{}
	_ [C.sizeof_ns_msg - unsafe.Sizeof(Message{})]struct{}
	_ [unsafe.Offsetof(Message{}.data) - unsafe.Offsetof(C.ns_msg{}.data)]struct{}
	_ [unsafe.Offsetof(C.ns_msg{}.data) - unsafe.Offsetof(Message{}.data)]struct{}
)

// Subject returns the subject (its first MaxSubject bytes).
func (m *Message) Subject() string { return string(m.subject[:m.SubjectLen]) }

// Payload returns the payload, or its first MaxPayload bytes if Truncated.
// It points into m.
func (m *Message) Payload() []byte { return m.data[:min(m.Len, MaxPayload)] }

// Truncated reports whether the payload was longer than MaxPayload.
func (m *Message) Truncated() bool { return m.Flags&C.NS_TRUNCATED != 0 }

// Mode is how the library's callback hands a message to Go.
type Mode int

const (
	// Post copies the message into a foreign.Queue and returns; the handler
	// runs on the queue's goroutine. The delivery thread never enters the
	// Go runtime.
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

	// Capacity is the queue's capacity (Post). 0 means 4096.
	Capacity int
	// Wait bounds how long the delivery thread waits for room when the
	// queue is full (Post); a post still refused then is counted in
	// Stats.Lost. 0 means 5 s.
	Wait time.Duration
	// Timings is how many callback durations to keep for Timings.
	Timings int
}

// Subscriber receives the messages of one subscription.
type Subscriber struct {
	c       *C.ns_sub
	q       *foreign.Queue[Message] // Post
	h       cgo.Handle              // Export
	handler func(Message)
	once    sync.Once
	err     error // from Close

	mu      sync.Mutex // guards c against Close
	final   Stats      // after Close
	timings []uint64   // after Close
}

// Subscribe connects and subscribes, and returns once the server has the
// subscription; handler then gets every message, one at a time, in the
// order the library delivered them.
//
// With Post, handler runs on a goroutine of the queue's and a panic in it
// is recovered and counted. With Export, it runs on the library's delivery
// thread, and a panic ends the program: it cannot unwind through C.
func Subscribe(cfg Config, handler func(Message)) (*Subscriber, error) {
	if cfg.Capacity == 0 {
		cfg.Capacity = 4096
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	s := &Subscriber{handler: handler}
	var target uintptr
	switch cfg.Mode {
	case Post:
		var err error
		s.q, err = foreign.NewQueue(handler, foreign.QueueConfig{Capacity: cfg.Capacity, Name: "nats " + cfg.Subject})
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
	Lost      uint64        // posts refused even after waiting
	Dropped   int64         // messages libnats dropped before the callback
	LastErr   error         // why the last refused post was refused
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
