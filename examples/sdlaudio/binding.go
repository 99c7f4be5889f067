package main

// The binding: an SDL2 audio device whose callback, on SDL's audio thread,
// asks Go for each buffer with foreign_callv (answered by a
// foreign.BytesFunc, its result written straight into SDL's stream) and a
// timeout a little under the period, and plays silence when Go is late.
// The C half is sdlaudio.c.

//go:generate go run github.com/foreigncall/foreign/cmd/foreignh

/*
#cgo pkg-config: sdl2
#cgo CFLAGS: -I${SRCDIR}/../internal/kit
#include <stdlib.h>
#include "sdlaudio.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign"
)

// Request is what the audio thread asks Go for (sa_req in sdlaudio.h).
type Request struct {
	Seq uint64 // the callback's number, from 0
	Pos uint64 // the stream's position in frames: what was played so far, silence included
	Len uint32 // bytes wanted
	_   uint32
}

const requestSize = int(unsafe.Sizeof(Request{}))

// Record is one callback as the audio thread saw it (sa_rec).
type Record struct {
	Seq  uint64
	Pos  uint64
	Code int32  // 0: it played Go's buffer; else the FOREIGN_E* code, and silence
	Len  uint32 // the buffer's bytes
	Got  uint32 // bytes Go returned; the rest of the buffer was silence
	_    uint32
	Hash uint64 // FNV-1a (64-bit) of the whole buffer as played
}

// The build fails here if a Go type and its C struct differ in size: each
// array length is negative unless they agree. (Every field is naturally
// aligned, so equal sizes mean equal layouts.)
var (
	_ [unsafe.Sizeof(Request{}) - C.sizeof_sa_req]struct{}
	_ [C.sizeof_sa_req - unsafe.Sizeof(Request{})]struct{}
	_ [unsafe.Sizeof(Record{}) - C.sizeof_sa_rec]struct{}
	_ [C.sizeof_sa_rec - unsafe.Sizeof(Record{})]struct{}
)

// Mode is how the audio callback asks Go.
type Mode int

const (
	// Call asks a foreign.BytesFunc with foreign_callv and waits at most
	// Config.Timeout; the function runs on its own goroutine. The audio
	// thread never enters the Go runtime.
	Call Mode = C.SA_CALL
	// Export calls the //export'ed sdlRender (export.go), which runs the
	// render function on the audio thread: the baseline the examples
	// compare against. It cannot time out.
	Export Mode = C.SA_EXPORT
)

func (m Mode) String() string {
	switch m {
	case Call:
		return "callv"
	case Export:
		return "export"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a Device.
type Config struct {
	Driver   string // SDL's audio driver; "" means "dummy", which plays into nothing, on time
	Freq     int    // frames per second; 0 means 48000
	Channels int    // 0 means 2
	Samples  int    // frames per callback; 0 means 2048 (8 KiB of stereo S16)
	Mode     Mode

	// Render appends the buffer asked for to out and returns it: req.Len
	// bytes of signed 16-bit native-endian samples, the channels
	// interleaved. With Call it runs on the BytesFunc's goroutine, one
	// call at a time; with Export, on the audio thread. Fewer bytes are
	// played followed by silence; more are an error.
	Render func(req Request, out []byte) []byte

	// Timeout bounds each call (Call). 0 means three quarters of the
	// period (Samples / Freq), leaving the callback time to fill silence.
	Timeout time.Duration
	// Records is how many callbacks to record for Records; Timings how
	// many hand-off durations to keep.
	Records, Timings int
}

// Period is the time one callback's buffer lasts.
func (c Config) Period() time.Duration {
	return time.Duration(c.Samples) * time.Second / time.Duration(c.Freq)
}

// FrameBytes is the size of one frame: 2 bytes per channel.
func (c Config) FrameBytes() int { return 2 * c.Channels }

// Device is an open SDL audio device.
type Device struct {
	cfg  Config
	c    *C.sa_dev
	fn   *foreign.BytesFunc // Call
	h    cgo.Handle         // Export
	once sync.Once
	bad  atomic.Uint64 // requests that were malformed, or answers too long

	mu      sync.Mutex // guards c against Close
	final   Stats      // after Close
	records []Record   // after Close
}

// sdl serialises SDL's initialisation, which is not thread-safe.
var sdl sync.Mutex

// Open opens the default output device of cfg.Driver, paused; Start starts
// the callbacks.
func Open(cfg Config) (*Device, error) {
	if cfg.Driver == "" {
		cfg.Driver = "dummy"
	}
	if cfg.Freq == 0 {
		cfg.Freq = 48000
	}
	if cfg.Channels == 0 {
		cfg.Channels = 2
	}
	if cfg.Samples == 0 {
		cfg.Samples = 2048
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = cfg.Period() * 3 / 4
	}
	if cfg.Render == nil {
		return nil, errors.New("sdlaudio: no Render function")
	}
	d := &Device{cfg: cfg}
	c := C.sa_config{
		mode: C.int(cfg.Mode), freq: C.int(cfg.Freq), channels: C.int(cfg.Channels), samples: C.int(cfg.Samples),
		timeout_ns: C.int64_t(cfg.Timeout), records: C.uint64_t(cfg.Records), timings: C.uint64_t(cfg.Timings),
	}
	switch cfg.Mode {
	case Call:
		var err error
		d.fn, err = foreign.NewBytesFunc(d.serve, foreign.BytesFuncConfig{
			// Room for a few calls: the audio thread makes one at a time,
			// and one that timed out may still be queued behind a slow one.
			Capacity: 16 * requestSize, MaxArg: requestSize, Name: "sdl audio",
		})
		if err != nil {
			return nil, fmt.Errorf("sdlaudio: %w", err)
		}
		c.target = C.uintptr_t(d.fn.Token())
	case Export:
		d.h = cgo.NewHandle(d)
		c.target = C.uintptr_t(d.h)
	default:
		return nil, fmt.Errorf("sdlaudio: unknown mode %d", cfg.Mode)
	}
	drv := C.CString(cfg.Driver)
	defer C.free(unsafe.Pointer(drv))
	c.driver = drv
	var errbuf [256]C.char
	sdl.Lock()
	rc := C.sa_dev_open(&d.c, &c, &errbuf[0], C.size_t(len(errbuf)))
	sdl.Unlock()
	if rc != 0 {
		d.release()
		return nil, fmt.Errorf("sdlaudio: %s", C.GoString(&errbuf[0]))
	}
	return d, nil
}

// serve is the BytesFunc: one request in, one buffer out.
func (d *Device) serve(arg, out []byte) []byte {
	if len(arg) != requestSize {
		d.bad.Add(1)
		return out
	}
	var req Request
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&req)), requestSize), arg)
	return d.render(req, out)
}

// render runs Render, and refuses an answer longer than the buffer.
func (d *Device) render(req Request, out []byte) []byte {
	b := d.cfg.Render(req, out)
	if len(b) > int(req.Len) {
		d.bad.Add(1)
		return out[:0]
	}
	return b
}

// Start unpauses the device: the audio thread begins calling back.
func (d *Device) Start() { C.sa_dev_start(d.c) }

// Close closes the device, which stops the audio thread, then the
// function: when it returns, Render will not be called again.
func (d *Device) Close() error {
	d.once.Do(func() {
		sdl.Lock()
		C.sa_dev_close(d.c) // no callback runs after this
		sdl.Unlock()
		d.release()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.final = d.read()
		var ns *C.uint64_t
		if n := C.sa_dev_timings(d.c, &ns); n > 0 {
			d.final.Timings = append([]uint64(nil), unsafe.Slice((*uint64)(unsafe.Pointer(ns)), int(n))...)
		}
		var r *C.sa_rec
		if n := C.sa_dev_records(d.c, &r); n > 0 {
			d.records = append([]Record(nil), unsafe.Slice((*Record)(unsafe.Pointer(r)), int(n))...)
		}
		C.sa_dev_free(d.c)
		d.c = nil
	})
	return nil
}

// release closes the Go side: the function (a call still running
// finishes; its result, if its caller gave up, is dropped and counted) or
// the handle.
func (d *Device) release() {
	if d.fn != nil {
		d.fn.Close()
	}
	if d.h != 0 {
		d.h.Delete()
	}
}

// Stats counts what the callback did.
type Stats struct {
	Callbacks uint64 // buffers SDL asked for
	Silent    uint64 // buffers played as silence: Go was late or failed
	Late      uint64 // of those, calls that timed out
	Short     uint64 // answers shorter than the buffer, padded with silence
	Bad       uint64 // malformed requests, or answers longer than the buffer
	LastErr   error  // why the last silent buffer was silent

	Func foreign.Stats // Call: the BytesFunc's counters (LateResults: answers after the caller gave up)

	// Timings are the hand-off durations kept (nanoseconds), after Close.
	Timings []uint64
	// Hand-offs during which the audio thread slept (it waited for
	// something: Go's answer, a P, the collector) or was preempted.
	Slept, Preempted uint64
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil {
		return d.final
	}
	return d.read()
}

func (d *Device) read() Stats {
	var st C.sa_stats
	C.sa_dev_stats(d.c, &st)
	out := Stats{
		Callbacks: uint64(st.callbacks), Silent: uint64(st.silent), Late: uint64(st.late),
		Short: uint64(st.short_), Bad: d.bad.Load(), Slept: uint64(st.slept), Preempted: uint64(st.preempted),
	}
	if st.last_code != 0 {
		out.LastErr = foreign.FromCode(int(st.last_code))
	}
	if d.fn != nil {
		out.Func = d.fn.Stats()
	}
	return out
}

// Records returns the callbacks recorded (Config.Records), after Close.
func (d *Device) Records() []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.records
}

// Config returns the device's configuration, defaults filled in.
func (d *Device) Config() Config { return d.cfg }
