package main

// The binding: a libmosquitto subscriber whose on_message callback, on the
// thread mosquitto_loop_start made, posts each message whole (a fixed
// header, the topic and the payload, gathered by foreign_postv) to a
// foreign.ByteQueue. The C half is mqtt.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo pkg-config: libmosquitto
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#include <stdlib.h>
#include "mqtt.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/cgo"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// MaxTopic is MQTT's limit on a topic's length.
const MaxTopic = C.MQ_TOPIC_MAX

// header is the fixed part of a message as the callback posts it; its
// layout is mq_hdr's (mqtt.h). The topic and the payload follow it.
type header struct {
	Len      uint32 // payload bytes
	TopicLen uint16
	QoS      uint8
	Flags    uint8 // retained
	Mid      int32
	_        int32
}

const headerSize = int(unsafe.Sizeof(header{}))

// The build fails here if header and mq_hdr differ in size: each array
// length is negative unless they agree. (Every field is naturally aligned,
// so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(header{}) - C.sizeof_mq_hdr]struct{}
	_ [C.sizeof_mq_hdr - unsafe.Sizeof(header{})]struct{}
)

// Message is one MQTT message, whole. Topic and Payload point into the
// queue's ring (Post) or into libmosquitto's buffer (Export): they are
// valid only until the handler returns, so copy what you keep.
type Message struct {
	Topic    []byte
	Payload  []byte
	QoS      uint8
	Retained bool
	Mid      int32 // the MQTT packet id (0 at QoS 0)
}

func (h *header) message(topic, payload []byte) Message {
	return Message{Topic: topic, Payload: payload, QoS: h.QoS, Retained: h.Flags&C.MQ_RETAINED != 0, Mid: h.Mid}
}

// decode splits a queue message into its header, topic and payload, in
// place. It reports false for one whose lengths do not add up, which only
// a bug can make.
func decode(b []byte) (Message, bool) {
	if len(b) < headerSize {
		return Message{}, false
	}
	var h header
	// A copy, not a cast: nothing here depends on how the ring aligns b.
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), b)
	t := headerSize + int(h.TopicLen)
	if t+int(h.Len) != len(b) {
		return Message{}, false
	}
	return h.message(b[headerSize:t:t], b[t:]), true
}

// Mode is how the library's callback hands a message to Go.
type Mode int

const (
	// Post copies the message into a foreign.ByteQueue and returns; the
	// handler runs on the queue's goroutine. The network thread never
	// enters the Go runtime.
	Post Mode = C.MQ_POST
	// Export calls the //export'ed mqttDeliver (export.go), which runs the
	// handler on the network thread: the baseline the examples compare
	// against.
	Export Mode = C.MQ_EXPORT
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
	Addr     string // the broker, host:port
	ClientID string // "" makes one up
	Topic    string // a topic filter
	QoS      int
	Mode     Mode

	// Capacity is the size of the queue's ring in bytes (Post). 0 means
	// 4 MiB (or, for a larger MaxMessage, room for two of the largest).
	Capacity int
	// MaxMessage is the longest topic plus payload the queue takes
	// (Post); a longer message is refused (FOREIGN_EMSGSIZE) and counted
	// in Stats.Lost. 0 means 1 MiB.
	MaxMessage int
	// Wait bounds how long the network thread waits for room when the
	// queue is full (Post); a post still refused then is counted in
	// Stats.Lost. 0 means 5 s.
	Wait time.Duration
	// Timings is how many callback durations to keep for Timings.
	Timings int
}

// Subscriber receives the messages of one subscription.
type Subscriber struct {
	c         *C.mq_sub
	q         *foreign.ByteQueue // Post
	h         cgo.Handle         // Export
	handler   func(Message)
	malformed atomic.Uint64 // queue messages decode refused
	once      sync.Once

	mu      sync.Mutex // guards c against Close
	final   Stats      // after Close
	timings []uint64   // after Close
}

var clients atomic.Uint64

// Subscribe connects, subscribes, and waits until the broker has
// acknowledged the subscription; handler then gets every message, one at a
// time, in the order the library delivered them. The message is in place:
// its slices are valid only until handler returns.
//
// With Post, handler runs on a goroutine of the queue's and a panic in it
// is recovered and counted. With Export, it runs on the library's network
// thread, and a panic ends the program: it cannot unwind through C.
func Subscribe(cfg Config, handler func(Message)) (*Subscriber, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: subscribe: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: subscribe: port: %w", err)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = fmt.Sprintf("foreign-example-%d-%d", os.Getpid(), clients.Add(1))
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 4 << 20
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = 1 << 20
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	s := &Subscriber{handler: handler}
	var target uintptr
	switch cfg.Mode {
	case Post:
		s.q, err = foreign.NewByteQueue(s.deliver, foreign.ByteQueueConfig{
			Capacity: cfg.Capacity, MaxMessage: headerSize + cfg.MaxMessage, Name: "mqtt " + cfg.Topic,
		})
		if err != nil {
			return nil, fmt.Errorf("mqtt: subscribe: %w", err)
		}
		target = uintptr(s.q.Token())
	case Export:
		s.h = cgo.NewHandle(s)
		target = uintptr(s.h)
	default:
		return nil, fmt.Errorf("mqtt: subscribe: unknown mode %d", cfg.Mode)
	}
	chost, cid, ctopic := C.CString(host), C.CString(cfg.ClientID), C.CString(cfg.Topic)
	defer C.free(unsafe.Pointer(chost))
	defer C.free(unsafe.Pointer(cid))
	defer C.free(unsafe.Pointer(ctopic))
	var errbuf [256]C.char
	var c *C.mq_sub
	if C.mq_sub_new(&c, chost, C.int(port), cid, ctopic, C.int(cfg.QoS), C.int(cfg.Mode),
		C.uintptr_t(target), C.int64_t(cfg.Wait), C.uint64_t(cfg.Timings), &errbuf[0], C.size_t(len(errbuf))) != 0 {
		s.release()
		return nil, fmt.Errorf("mqtt: subscribe: %s", C.GoString(&errbuf[0]))
	}
	s.c = c
	if rc := C.mq_sub_wait_subscribed(s.c, C.int64_t(10*time.Second)); rc != 0 {
		s.Close()
		return nil, fmt.Errorf("mqtt: subscribe %q: %s", cfg.Topic, C.GoString(C.mq_strerror(rc)))
	}
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

// Close stops the library's network thread, then (Post) delivers what is
// still queued. When it returns the handler will not be called again.
func (s *Subscriber) Close() error {
	s.once.Do(func() {
		C.mq_sub_stop(s.c) // no callback runs after this
		s.release()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.final = s.read()
		var p *C.uint64_t
		if n := C.mq_sub_timings(s.c, &p); n > 0 {
			s.timings = append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(p)), int(n))...)
		}
		C.mq_sub_free(s.c)
		s.c = nil
	})
	return nil
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
	LastErr   error         // why the last of them was refused
	Malformed uint64        // queue messages whose lengths did not add up (a bug)
	Queue     foreign.Stats // Post: the queue's own counters

	// Hand-offs during which the network thread slept (it waited for
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
	var st C.mq_stats
	C.mq_sub_stats(s.c, &st)
	out := Stats{
		Callbacks: uint64(st.callbacks), Waited: uint64(st.waited), Lost: uint64(st.lost),
		Slept: uint64(st.slept), Preempted: uint64(st.preempted), Malformed: s.malformed.Load(),
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
// network thread spent handing each message over. Valid after Close.
func (s *Subscriber) Timings() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timings
}

// Publisher publishes messages: the example's source of traffic.
type Publisher struct {
	c    *C.mq_pub
	sent uint64
}

// NewPublisher connects a publishing client.
func NewPublisher(addr string) (*Publisher, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: publisher: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: publisher: port: %w", err)
	}
	chost := C.CString(host)
	defer C.free(unsafe.Pointer(chost))
	cid := C.CString(fmt.Sprintf("foreign-example-pub-%d-%d", os.Getpid(), clients.Add(1)))
	defer C.free(unsafe.Pointer(cid))
	p := &Publisher{}
	var errbuf [256]C.char
	if C.mq_pub_new(&p.c, chost, C.int(port), cid, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return nil, fmt.Errorf("mqtt: publisher: %s", C.GoString(&errbuf[0]))
	}
	return p, nil
}

// Send queues payload for publication on topic; the library copies it.
func (p *Publisher) Send(topic string, payload []byte, qos int) error {
	ct := C.CString(topic)
	defer C.free(unsafe.Pointer(ct))
	var ptr unsafe.Pointer
	if len(payload) > 0 {
		ptr = unsafe.Pointer(&payload[0])
	}
	if rc := C.mq_pub_send(p.c, ct, ptr, C.int(len(payload)), C.int(qos)); rc != 0 {
		return fmt.Errorf("mqtt: publish: %s", C.GoString(C.mq_strerror(rc)))
	}
	p.sent++
	return nil
}

// Flush waits until the broker has acknowledged everything sent.
func (p *Publisher) Flush(timeout time.Duration) error {
	if C.mq_pub_wait(p.c, C.uint64_t(p.sent), C.int64_t(timeout)) != 0 {
		return errors.New("mqtt: publisher: flush timed out")
	}
	return nil
}

// Close disconnects.
func (p *Publisher) Close() {
	C.mq_pub_free(p.c)
	p.c = nil
}
