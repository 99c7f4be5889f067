// bytefunc.go: BytesFunc, a Go function of byte strings that C threads
// call and wait for.

package foreign

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/foreigncall/foreign/internal/fq"
)

// BytesFuncConfig configures a [BytesFunc]. The zero value is ready to use.
type BytesFuncConfig struct {
	// Capacity is the size in bytes of the ring that holds calls accepted
	// and not yet taken up (each takes its argument's length plus 8,
	// rounded up to 8); a caller finding it full waits for room, within its
	// timeout. See ByteQueueConfig.Capacity; zero means 1 MiB.
	Capacity int

	// MaxArg is the longest argument in bytes; a longer one fails with
	// ErrMessageSize (C: FOREIGN_EMSGSIZE). Zero means 64 KiB.
	MaxArg int

	// Name, OnPanic, Loop, Workers and OnClose: see FuncConfig. With one
	// worker (the default) a BytesFunc runs one call at a time, in the
	// order the calls were accepted; with more, each call's argument is
	// copied out of the ring for the worker that runs it.
	Name    string
	OnPanic func(*PanicError)
	Loop    *Loop
	Workers int
	OnClose func()

	// Latency: see FuncConfig.Latency.
	Latency bool
}

// BytesFunc makes a Go function of byte strings callable from C threads
// with foreign_callv, which waits for the result with a timeout, and from
// Go with Call. The argument and the result may each be of any length: the
// argument up to MaxArg, the result up to the caller's buffer. A caller
// whose buffer is too small gets FOREIGN_EMSGSIZE and the result's length,
// and can call again with that much room.
//
// fn receives the argument in place in the ring (valid until it returns)
// and an empty buffer, out, to append its result to; it returns the result,
// which may be out grown by append or any other slice. The result is copied
// to the caller before fn runs again, so out is reused from call to call
// and a steady state allocates nothing.
type BytesFunc struct {
	q    *byteRing
	fn   func(arg, out []byte) []byte
	out  []byte // fn's result buffer, the consumer's
	late atomic.Uint64

	work    chan *bytesWork // to the workers, when Workers > 1
	works   sync.Pool       // *bytesWork
	workers sync.WaitGroup

	calls goCalls[bytesCall] // Go callers waiting
}

// bytesCall is a Go caller waiting: the consumer appends the result to out.
type bytesCall struct {
	out []byte
	err error
	ch  chan struct{} // buffered: the consumer never blocks on it
}

// bytesWork is a call handed to a worker: its header and a copy of its
// argument (the ring's record is released with its batch).
type bytesWork struct {
	hdr   uint64
	arg   []byte
	stamp int64 // latency.go
}

func newBytesCall() *bytesCall { return &bytesCall{ch: make(chan struct{}, 1)} }

// callHdr is the size of a call's header in the ring (see Func's callMsg).
const callHdr = 8

// NewBytesFunc returns a BytesFunc that runs fn for every call.
func NewBytesFunc(fn func(arg, out []byte) []byte, cfg BytesFuncConfig) (*BytesFunc, error) {
	switch {
	case fn == nil:
		return nil, fmt.Errorf("foreign: NewBytesFunc: nil function: %w", ErrInvalid)
	case cfg.Workers < 0:
		return nil, fmt.Errorf("foreign: NewBytesFunc: Workers %d < 0: %w", cfg.Workers, ErrInvalid)
	case cfg.Workers > 1 && cfg.Loop != nil:
		return nil, fmt.Errorf("foreign: NewBytesFunc: Workers > 1 on a Loop (a Loop runs one handler at a time): %w", ErrInvalid)
	}
	workers := max(cfg.Workers, 1)
	qc := ByteQueueConfig{Capacity: cfg.Capacity, MaxMessage: cfg.MaxArg, Name: cfg.Name, OnPanic: cfg.OnPanic,
		Loop: cfg.Loop, OnClose: cfg.OnClose, Latency: cfg.Latency}
	if qc.MaxMessage == 0 {
		qc.MaxMessage = defaultMaxMessage
	}
	bq, err := openByteQueue(qc, fq.KindFunc, callHdr, workers)
	if err != nil {
		return nil, err
	}
	f := &BytesFunc{q: bq.byteRing, fn: fn}
	f.q.region = regionFunc
	if workers > 1 {
		f.q.region = regionDispatch
		f.work = make(chan *bytesWork, workers)
		for range workers {
			f.workers.Go(f.work1)
		}
		f.q.handle = func(ms [][]byte, done *int) {
			stamps := f.q.stamps(len(ms))
			for i, m := range ms {
				*done = i + 1
				w, _ := f.works.Get().(*bytesWork)
				if w == nil {
					w = new(bytesWork)
				}
				w.hdr, w.arg, w.stamp = binary.LittleEndian.Uint64(m), append(w.arg[:0], m[callHdr:]...), 0
				if i < len(stamps) {
					w.stamp = stamps[i]
				}
				f.work <- w
			}
		}
		// As Func's: the workers end once the queue has handed them its
		// last call, before OnClose and the end of Close's wait.
		f.q.drain = func() {
			close(f.work)
			f.workers.Wait()
		}
	} else {
		f.q.handle = func(ms [][]byte, done *int) {
			var stamps []int64
			if f.q.lat != nil {
				stamps = f.q.stamps(len(ms))
			}
			for i, m := range ms {
				*done = i + 1
				var stamp int64
				if i < len(stamps) {
					stamp = stamps[i]
				}
				f.serve(binary.LittleEndian.Uint64(m), m[callHdr:], &f.out, stamp)
			}
		}
	}
	startConsumer(f.q)
	return f, nil
}

// Token returns the token C code passes to foreign_callv.
func (f *BytesFunc) Token() Token { return f.q.Token() }

// Release drops the Go side's reference (see Queue.Release).
func (f *BytesFunc) Release() error { return f.q.Release() }

// Ref and Unref: see Queue.Ref.
func (f *BytesFunc) Ref()   { f.q.Ref() }
func (f *BytesFunc) Unref() { f.q.Unref() }

// Latency returns the function's latency histograms (see FuncConfig.Latency).
func (f *BytesFunc) Latency() Latency { return f.q.Latency() }

// MaxArg is the longest argument the function takes.
func (f *BytesFunc) MaxArg() int { return f.q.h.MaxMessage() - callHdr }

// work1 is a worker, with a result buffer of its own (see Func.work1).
func (f *BytesFunc) work1() {
	finished := false
	defer func() {
		if !finished { // fn called runtime.Goexit: report it, and replace this worker
			f.q.panics.Add(1)
			reportPanic(f.q.name, f.q.onPanic, errGoexit)
			f.workers.Go(f.work1)
		}
	}()
	var out []byte
	for w := range f.work {
		f.serveMarked(w, &out)
		f.works.Put(w)
	}
	finished = true
}

// serveMarked is serve on a worker, its thread marked as serving the
// function (block.h, "Serving").
func (f *BytesFunc) serveMarked(w *bytesWork, out *[]byte) {
	old := f.q.h.Enter()
	defer f.q.h.Leave(old)
	defer endRegion(startRegion(regionFunc, f.q.name))
	f.serve(w.hdr, w.arg, out, w.stamp)
}

// serve runs one call and hands the result to the caller, even if fn ends
// its goroutine with runtime.Goexit (the caller then gets ErrPanic). out
// is the result buffer of whoever runs it; it grows to the longest result.
func (f *BytesFunc) serve(hdr uint64, arg []byte, out *[]byte, stamp int64) {
	answered := false
	defer func() {
		if !answered { // see Func.serve
			f.reply(hdr, nil, &PanicError{Name: f.q.name, Value: errGoexit})
		}
	}()
	var t int64
	if stamp != 0 {
		t = f.q.lat.start(stamp)
	}
	r, err := f.invoke(arg, *out)
	if stamp != 0 {
		f.q.lat.done(t)
	}
	answered = true
	f.reply(hdr, r, err)
	if len(r) > cap(*out) {
		*out = make([]byte, 0, len(r))
	}
}

// invoke runs fn, turning a panic into an error (see Func.invoke).
func (f *BytesFunc) invoke(arg, out []byte) (r []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			f.q.panics.Add(1)
			err = reportPanic(f.q.name, f.q.onPanic, p)
		}
	}()
	return f.fn(arg, out[:0]), nil
}

// reply hands a call's result to its caller, or counts it as late.
func (f *BytesFunc) reply(hdr uint64, r []byte, err error) {
	if hdr&goCallBit != 0 {
		gc := f.calls.take(hdr &^ goCallBit)
		if gc == nil {
			f.late.Add(1) // the caller's ctx ended first
			return
		}
		gc.out, gc.err = append(gc.out[:0], r...), err
		gc.ch <- struct{}{}
		return
	}
	var p unsafe.Pointer
	if len(r) > 0 {
		p = unsafe.Pointer(&r[0])
	}
	if fq.Complete(hdr, Code(err), p, uintptr(len(r))) {
		f.late.Add(1) // the C caller timed out first
	}
}

// Call calls the function from Go with arg and waits for its result until
// ctx is done; it returns the result appended to out[:0]. Its errors are
// Func.Call's, and ErrMessageSize for an argument longer than MaxArg.
func (f *BytesFunc) Call(ctx context.Context, arg, out []byte) ([]byte, error) {
	h := f.q.h
	if h.Closed() {
		h.CountClosed()
		return out[:0], ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return out[:0], err
	}
	switch h.SelfCall() {
	case 0:
	case 1:
		defer h.SelfCallEnd()
	default:
		return out[:0], ErrDeadlock
	}
	gc := f.calls.get(newBytesCall)
	gc.out, gc.err = out[:0], nil
	id := f.calls.add(gc)
	var hdr [callHdr]byte
	binary.LittleEndian.PutUint64(hdr[:], goCallBit|id)
	if err := h.PostBytesWait(ctx, hdr[:], arg); err != nil {
		f.calls.take(id)
		gc.out = nil
		f.calls.put(gc)
		return out[:0], err
	}
	select {
	case <-gc.ch:
	case <-ctx.Done():
		if f.calls.take(id) != nil {
			gc.out = nil
			f.calls.put(gc) // gone from pending: the consumer will never use it
			h.CountTimeout()
			return out[:0], ctx.Err()
		}
		<-gc.ch // the function already ran; its result is on the way
	}
	res, err := gc.out, gc.err
	gc.out = nil
	f.calls.put(gc)
	return res, err
}

// Close stops accepting calls; see Func.Close.
func (f *BytesFunc) Close() error { return f.q.Close() }

// Stats returns the function's counters (see Func.Stats and, for the
// bytes, ByteQueue.Stats).
func (f *BytesFunc) Stats() Stats {
	st := f.q.Stats()
	st.LateResults = f.late.Load()
	return st
}
