package main

// The binding: a GStreamer pipeline ending in an appsink whose new-sample
// callback, on GStreamer's streaming thread, maps each frame's buffer and
// posts a fixed header and the frame's bytes (gathered by foreign_postv)
// to a foreign.ByteQueue, then unmaps and unrefs the buffer. The C half is
// appsink.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo pkg-config: gstreamer-app-1.0
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#include <stdlib.h>
#include "appsink.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// header is the fixed part of a frame as the callback posts it; its layout
// is gs_hdr's (appsink.h). The frame's bytes follow it.
type header struct {
	Seq  uint64
	PTS  uint64
	Size uint32
	Hash uint32
}

const headerSize = int(unsafe.Sizeof(header{}))

// The build fails here if header and gs_hdr differ in size: each array
// length is negative unless they agree. (Every field is naturally aligned,
// so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(header{}) - C.sizeof_gs_hdr]struct{}
	_ [C.sizeof_gs_hdr - unsafe.Sizeof(header{})]struct{}
)

// NoPTS is Frame.PTS for a buffer without a time stamp.
const NoPTS = time.Duration(-1)

// Frame is one video frame, whole. Data points into the queue's ring
// (Post) or into the mapped GstBuffer (Export): it is valid only until the
// handler returns, so copy what you keep.
type Frame struct {
	Seq  uint64        // the frame's number, from 0
	PTS  time.Duration // presentation time stamp, or NoPTS
	Hash uint32        // CRC-32 (IEEE) of Data, computed in C before the hand-off
	Data []byte
}

func (h *header) frame(data []byte) Frame {
	pts := NoPTS
	if h.PTS != ^uint64(0) {
		pts = time.Duration(h.PTS)
	}
	return Frame{Seq: h.Seq, PTS: pts, Hash: h.Hash, Data: data}
}

// Mode is how the streaming thread hands a frame to Go.
type Mode int

const (
	// Post copies the frame into a foreign.ByteQueue and returns (waiting
	// for room, bounded, when it is full); the handler runs on the queue's
	// goroutine. The streaming thread never enters the Go runtime.
	Post Mode = C.GS_POST
	// Export calls the //export'ed gstDeliver (export.go), which runs the
	// handler on the streaming thread: the baseline the examples compare
	// against.
	Export Mode = C.GS_EXPORT
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

// Config configures a pipeline: videotestsrc producing Frames raw RGB
// frames of Width x Height, to an appsink.
type Config struct {
	Frames        int
	Width, Height int    // 0 means 64 x 48 (9 KiB frames)
	Pattern       string // videotestsrc's pattern; "" means snow: every frame differs
	Mode          Mode

	// Capacity is the size of the queue's ring in bytes (Post). 0 means
	// room for 8 frames; it is at least room for 2.
	Capacity int
	// Wait bounds how long the streaming thread waits for room when the
	// queue is full (Post); a frame still refused then is counted in
	// Stats.Lost, and the pipeline goes on. 0 means 5 s.
	Wait time.Duration
	// Timeout bounds the whole run. 0 means 1 min.
	Timeout time.Duration
	// Timings makes Run keep the duration of every hand-off.
	Timings bool
}

// FrameSize is the size of a Width x Height RGB frame: 3 bytes a pixel, no
// padding as long as a row's bytes are a multiple of 4 (GStreamer's
// stride).
func (c Config) FrameSize() int { return (c.Width*3 + 3) &^ 3 * c.Height }

// Description is the pipeline, in gst-launch syntax.
func (c Config) Description() string {
	// sync=false: frames go as fast as they are made, not at 30 per
	// second of the clock.
	return fmt.Sprintf("videotestsrc num-buffers=%d pattern=%s ! video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! appsink name=sink sync=false",
		c.Frames, c.Pattern, c.Width, c.Height)
}

// FrameDuration is the time between frames' time stamps (30 per second).
const FrameDuration = time.Second / 30

// Stats is what a run did.
type Stats struct {
	Callbacks uint64        // frames the streaming thread handed over (or tried to)
	Waited    uint64        // posts that found the queue full and waited
	Lost      uint64        // posts refused even after waiting
	LastErr   error         // why the last of them was refused
	Unmapped  uint64        // samples the callback could not pull or map
	Malformed uint64        // queue messages whose lengths did not add up (a bug)
	Queue     foreign.Stats // Post: the queue's own counters

	// Timings are the durations (nanoseconds) of the hand-offs, if
	// Config.Timings.
	Timings []uint64
	// Hand-offs during which the streaming thread slept (it waited for
	// something: a P, the collector, room) or was preempted by the kernel.
	Slept, Preempted uint64
}

// Run builds the pipeline, plays it to the end of the stream and stops it.
// handler gets every frame, one at a time, in the order the pipeline made
// them, in place: Frame.Data is valid only until handler returns. When Run
// returns, handler has been called for the last frame.
//
// With Post, handler runs on a goroutine of the queue's and a panic in it
// is recovered and counted. With Export, it runs on the streaming thread,
// and a panic ends the program: it cannot unwind through C.
func Run(cfg Config, handler func(Frame)) (Stats, error) {
	if cfg.Width == 0 || cfg.Height == 0 {
		cfg.Width, cfg.Height = 64, 48
	}
	if cfg.Pattern == "" {
		cfg.Pattern = "snow"
	}
	if cfg.Wait == 0 {
		cfg.Wait = 5 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 8 * (headerSize + cfg.FrameSize() + 8)
	}
	var (
		st        Stats
		q         *foreign.ByteQueue
		malformed atomic.Uint64
		c         = C.gs_config{mode: C.int(cfg.Mode), wait_ns: C.int64_t(cfg.Wait)}
	)
	if cfg.Timings {
		c.timings = C.uint64_t(cfg.Frames)
	}
	switch cfg.Mode {
	case Post:
		var err error
		q, err = foreign.NewByteQueue(func(b []byte) {
			var h header
			if len(b) >= headerSize {
				// A copy, not a cast: nothing here depends on how the
				// ring aligns b.
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), b)
			}
			if len(b) < headerSize || int(h.Size) != len(b)-headerSize {
				malformed.Add(1)
				return
			}
			handler(h.frame(b[headerSize:]))
		}, foreign.ByteQueueConfig{
			Capacity: cfg.Capacity, MaxMessage: headerSize + cfg.FrameSize(), Name: "appsink",
		})
		if err != nil {
			return st, fmt.Errorf("appsink: %w", err)
		}
		defer q.Close()
		c.target = C.uintptr_t(q.Token())
	case Export:
		h := cgo.NewHandle(handler)
		defer h.Delete()
		c.target = C.uintptr_t(h)
	default:
		return st, fmt.Errorf("appsink: unknown mode %d", cfg.Mode)
	}

	desc := C.CString(cfg.Description())
	defer C.free(unsafe.Pointer(desc))
	var errbuf [512]C.char
	var p *C.gs_pipe
	if C.gs_pipe_new(&p, desc, &c, &errbuf[0], C.size_t(len(errbuf))) != 0 {
		return st, fmt.Errorf("appsink: %s", C.GoString(&errbuf[0]))
	}
	defer C.gs_pipe_free(p)
	var runErr error
	if C.gs_pipe_run(p, C.int64_t(cfg.Timeout), &errbuf[0], C.size_t(len(errbuf))) != 0 {
		runErr = fmt.Errorf("appsink: %s", C.GoString(&errbuf[0]))
	}
	// The streaming thread is joined: the queue delivers what it holds,
	// and the handler has run for the last time when Close returns.
	if q != nil {
		q.Close()
		st.Queue = q.Stats()
	}
	var cs C.gs_stats
	C.gs_pipe_stats(p, &cs)
	st.Callbacks, st.Waited, st.Lost = uint64(cs.callbacks), uint64(cs.waited), uint64(cs.lost)
	st.Unmapped, st.Slept, st.Preempted = uint64(cs.unmapped), uint64(cs.slept), uint64(cs.preempted)
	st.Malformed = malformed.Load()
	if cs.last_code != 0 {
		st.LastErr = foreign.FromCode(int(cs.last_code))
	}
	var ns *C.uint64_t
	if n := C.gs_pipe_timings(p, &ns); n > 0 {
		st.Timings = append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(ns)), int(n))...)
	}
	return st, runErr
}
