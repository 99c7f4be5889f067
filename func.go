// func.go: Func, a Go function that C threads call and wait for.

package foreign

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/foreigncall/foreign/internal/fq"
)

// Func makes a Go function callable from C threads with foreign_call, which
// waits for the result (with a timeout), and from Go with Call. Calls travel
// through a queue like Queue's; the function runs on the queue's goroutine
// (or on Config.Workers goroutines), never on the calling thread.
//
// The Go function runs one call at a time, in the order the calls were
// accepted, unless Config.Workers > 1.
type Func[A, R any] struct {
	q  *Queue[callMsg[A]]
	fn func(A) R

	calls goCalls[goCall[R]] // Go callers waiting

	work    chan *funcWork[A] // to the workers, when Workers > 1
	msgs    sync.Pool         // *funcWork[A]: the calls handed to workers
	rets    sync.Pool         // *R: results on their way to C callers
	workers sync.WaitGroup

	late atomic.Uint64
}

// FuncConfig configures a [Func]. The zero value is ready to use.
type FuncConfig struct {
	// Capacity bounds the calls accepted and not yet taken up by the
	// function's consumer (which takes a batch of up to 256 at a time); a
	// caller finding it full waits for room, within its timeout. Rounded
	// up to a power of two; zero means 1024.
	Capacity int

	// Name labels the function in panic reports.
	Name string

	// OnPanic is called when the function panics; the caller gets
	// FOREIGN_EPANIC (ErrPanic). Nil logs the panic with slog.Default().
	OnPanic func(*PanicError)

	// Loop, if set, runs the function on that Loop's goroutine. It cannot
	// be combined with Workers > 1.
	Loop *Loop

	// Workers is the number of goroutines that run calls. Above 1, calls
	// run in parallel and complete in no particular order: use it only for
	// calls that are independent of each other. Zero means 1.
	Workers int

	// OnClose, if set, is called once after the Func is closed and every
	// call it accepted has returned.
	OnClose func()

	// Latency, if set, records how long each call waits, from the call to
	// the start of the function, and how long the function takes, in
	// histograms read with Latency (see QueueConfig.Latency).
	Latency bool
}

// callMsg is a call as it sits in the ring: a header naming the caller,
// then the argument. C callers name their call slot (index | generation<<32,
// see call.c); Go callers set goCallBit and an id of the pending map.
type callMsg[A any] struct {
	hdr uint64
	arg A
}

const goCallBit = 1 << 63

// funcWork is a call handed to a worker, and its stamp (latency.go).
type funcWork[A any] struct {
	m     callMsg[A]
	stamp int64
}

type goCall[R any] struct {
	res callResult[R] // written by the consumer before it signals ch
	ch  chan struct{} // buffered: the consumer never blocks on it
}

func newGoCall[R any]() *goCall[R] { return &goCall[R]{ch: make(chan struct{}, 1)} }

// callResult is a call's outcome. Go calls pass it by pointer, and workers
// their calls: a channel's element must stay under 64 KiB, and A and R may
// be up to 16 MiB.
type callResult[R any] struct {
	r   R
	err error
}

// NewFunc returns a Func that runs fn for every call. A and R must be plain
// data, as for NewQueue; A and R at most 16 MiB each. For arguments and
// results of varying length, see BytesFunc.
func NewFunc[A, R any](fn func(A) R, cfg FuncConfig) (*Func[A, R], error) {
	if fn == nil {
		return nil, fmt.Errorf("foreign: NewFunc: nil function: %w", ErrInvalid)
	}
	switch {
	case cfg.Workers < 0:
		return nil, fmt.Errorf("foreign: NewFunc: Workers %d < 0: %w", cfg.Workers, ErrInvalid)
	case cfg.Workers > 1 && cfg.Loop != nil:
		return nil, fmt.Errorf("foreign: NewFunc: Workers > 1 on a Loop (a Loop runs one handler at a time): %w", ErrInvalid)
	}
	var a A
	var r R
	for _, t := range []reflect.Type{reflect.TypeOf(&a).Elem(), reflect.TypeOf(&r).Elem()} {
		if err := checkPlain(t); err != nil {
			return nil, err
		}
	}
	if unsafe.Sizeof(r) > uintptr(fq.MaxRet) {
		return nil, fmt.Errorf("foreign: result size %d over %d: %w", unsafe.Sizeof(r), fq.MaxRet, ErrInvalid)
	}
	f := &Func[A, R]{fn: fn}
	workers := max(cfg.Workers, 1)
	qc := QueueConfig{Capacity: cfg.Capacity, Name: cfg.Name, OnPanic: cfg.OnPanic, Loop: cfg.Loop, OnClose: cfg.OnClose,
		Latency: cfg.Latency}
	q, err := openQueue[callMsg[A]](qc, int(unsafe.Sizeof(a)), int(unsafe.Sizeof(r)), workers)
	if err != nil {
		return nil, err
	}
	f.q = q
	q.region = regionFunc
	if workers > 1 {
		q.region = regionDispatch
		f.work = make(chan *funcWork[A], workers)
		for range workers {
			f.workers.Go(f.work1)
		}
		q.handle = func(vs []callMsg[A], done *int) {
			stamps := q.stamps(len(vs))
			for i := range vs {
				*done = i + 1
				w, _ := f.msgs.Get().(*funcWork[A])
				if w == nil {
					w = new(funcWork[A])
				}
				w.m, w.stamp = vs[i], 0 // the batch's buffer is reused once the batch is handed out
				if i < len(stamps) {
					w.stamp = stamps[i]
				}
				f.work <- w
			}
		}
		// The workers end once the queue has handed them its last call,
		// however it was closed (Close, Release, the last foreign_release),
		// and before OnClose and the end of Close's wait.
		q.drain = func() {
			close(f.work)
			f.workers.Wait()
		}
	} else {
		q.handle = f.runBatch
	}
	startConsumer(q)
	return f, nil
}

// Token returns the token C code passes to foreign_call (see Queue.Token).
func (f *Func[A, R]) Token() Token { return f.q.Token() }

// Release drops the Go side's reference (see Queue.Release).
func (f *Func[A, R]) Release() error { return f.q.Release() }

// Ref and Unref: see Queue.Ref.
func (f *Func[A, R]) Ref()   { f.q.Ref() }
func (f *Func[A, R]) Unref() { f.q.Unref() }

// runBatch serves a batch on the queue's consumer, which marks its
// thread as serving the Func meanwhile (block.h, "Serving"), so that a call
// into the Func from fn, in Go or through C, fails with EDEADLK.
func (f *Func[A, R]) runBatch(vs []callMsg[A], done *int) {
	var stamps []int64
	if f.q.lat != nil {
		stamps = f.q.stamps(len(vs))
	}
	for i := range vs {
		*done = i + 1
		var stamp int64
		if i < len(stamps) {
			stamp = stamps[i]
		}
		f.serve(&vs[i], stamp)
	}
}

// work1 is a worker: it serves calls until the queue has handed out its
// last one. A worker ended by a runtime.Goexit in fn is replaced.
func (f *Func[A, R]) work1() {
	finished := false
	defer func() {
		if !finished { // fn called runtime.Goexit: report it, and replace this worker
			f.q.panics.Add(1)
			reportPanic(f.q.name, f.q.onPanic, errGoexit)
			f.workers.Go(f.work1)
		}
	}()
	for w := range f.work {
		f.serveMarked(&w.m, w.stamp)
		f.msgs.Put(w)
	}
	finished = true
}

// serveMarked is serve on a worker, its thread marked as serving the Func.
func (f *Func[A, R]) serveMarked(m *callMsg[A], stamp int64) {
	old := f.q.h.Enter()
	defer f.q.h.Leave(old)
	defer endRegion(startRegion(regionFunc, f.q.name))
	f.serve(m, stamp)
}

// serve runs one call and hands its result to the caller, even if fn
// ends its goroutine with runtime.Goexit (the caller then gets ErrPanic).
// The error for a Goexit is made only then: made up front, and captured
// by the deferred reply, it cost an allocation per call (and so did R).
//
// With latencies recorded (stamp is the call's, 0 if none), the wait is
// from the call to fn's start and the time is fn's own.
func (f *Func[A, R]) serve(m *callMsg[A], stamp int64) {
	answered := false
	defer func() {
		if !answered {
			var zero R
			f.reply(m.hdr, zero, &PanicError{Name: f.q.name, Value: errGoexit})
		}
	}()
	var t int64
	if stamp != 0 {
		t = f.q.lat.start(stamp)
	}
	r, err := f.invoke(m.arg)
	if stamp != 0 {
		f.q.lat.done(t)
	}
	answered = true
	f.reply(m.hdr, r, err)
}

// Latency returns the function's latency histograms (see FuncConfig.Latency).
func (f *Func[A, R]) Latency() Latency { return f.q.Latency() }

// reply hands a call's result to its caller, or counts it as late.
func (f *Func[A, R]) reply(hdr uint64, r R, err error) {
	if hdr&goCallBit != 0 {
		gc := f.calls.take(hdr &^ goCallBit)
		if gc == nil {
			f.late.Add(1) // the caller's ctx ended first
			return
		}
		gc.res = callResult[R]{r, err}
		gc.ch <- struct{}{}
		return
	}
	// The result goes to C from a buffer of the pool's: the address of r
	// itself, passed to C, would move r to the heap on every call.
	p, _ := f.rets.Get().(*R)
	if p == nil {
		p = new(R)
	}
	*p = r
	if fq.Complete(hdr, Code(err), unsafe.Pointer(p), unsafe.Sizeof(r)) {
		f.late.Add(1) // the C caller timed out first
	}
	f.rets.Put(p)
}

// invoke runs fn, turning a panic into an error that is reported and
// counted; the next call runs as usual.
func (f *Func[A, R]) invoke(a A) (r R, err error) {
	defer func() {
		// A runtime.Goexit is not recovered (it cannot be): serve still
		// answers the caller, and whoever runs serve reports it once
		// (handleSafely on the queue's consumer, work1 on a worker).
		if p := recover(); p != nil {
			f.q.panics.Add(1)
			err = reportPanic(f.q.name, f.q.onPanic, p)
		}
	}()
	return f.fn(a), nil
}

// Call calls the function from Go and waits for its result until ctx is
// done. It returns ErrClosed after Close, a *PanicError (errors.Is
// ErrPanic) if the function panicked, ErrDeadlock if called from the
// function itself or from another handler of its Loop (it would wait for
// itself; with Workers > 1, if every other worker waits in such a call
// already), or ctx.Err().
func (f *Func[A, R]) Call(ctx context.Context, a A) (R, error) {
	var zero R
	h := f.q.h
	if h.Closed() { // first: a freed Func's block may serve another handle
		h.CountClosed()
		return zero, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return zero, err // done already: the function does not run
	}
	switch h.SelfCall() {
	case 0:
	case 1:
		defer h.SelfCallEnd()
	default:
		return zero, ErrDeadlock
	}
	gc := f.calls.get(newGoCall[R])
	id := f.calls.add(gc)
	if err := fq.PostWait(h, ctx, callMsg[A]{hdr: goCallBit | id, arg: a}); err != nil {
		f.calls.take(id)
		f.calls.put(gc)
		return zero, err
	}
	select {
	case <-gc.ch:
	case <-ctx.Done():
		if f.calls.take(id) != nil {
			// Gone from pending: the consumer will never send on gc.ch.
			f.calls.put(gc)
			h.CountTimeout()
			return zero, ctx.Err()
		}
		<-gc.ch // the function already ran; its result is on the way
	}
	r, err := gc.res.r, gc.res.err
	f.calls.put(gc) // gc.ch is empty again
	return r, err
}

// Close stops accepting calls (later calls fail with ErrClosed, C:
// FOREIGN_ECLOSED) and wakes callers waiting for room. Calls accepted before
// it still run and their callers get their results; when Close returns the
// function will not be called again, every worker has ended and OnClose has
// run. Called from inside a handler (this function, or any other handle's
// handler) Close returns at once instead (see the package doc, "Closing and
// releasing").
func (f *Func[A, R]) Close() error { return f.q.Close() }

// Stats returns the function's counters. Posted counts accepted calls,
// TimedOut callers that gave up, LateResults results dropped because their
// caller had gone, Panics the function's panics.
func (f *Func[A, R]) Stats() Stats {
	st := f.q.Stats()
	st.LateResults = f.late.Load()
	return st
}
