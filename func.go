package foreign

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Func makes a Go function callable from C threads with foreign_call, which
// waits for the result (with a timeout), and from Go with Call. Calls travel
// through a queue like Queue's; the function runs on the queue's goroutine
// (or on Config.Workers goroutines), never on the calling thread.
//
// The Go function runs one call at a time, in the order the calls were
// accepted, unless Config.Workers > 1.
type Func[A, R any] struct {
	q       *Queue[callMsg[A]]
	fn      func(A) R
	onPanic func(*PanicError)
	name    string

	mu      sync.Mutex
	pending map[uint64]*goCall[R] // Go callers waiting, by id
	nextID  uint64

	work     chan callMsg[A] // to the workers, when Workers > 1
	workers  sync.WaitGroup
	stopWork sync.Once

	late   atomic.Uint64
	panics atomic.Uint64

	calls sync.Pool // *goCall[R]: a Go call allocates nothing in the steady state
}

// callMsg is a call as it sits in the ring: a header naming the caller,
// then the argument. C callers name their call slot (index | generation<<32,
// see call.c); Go callers set goCallBit and an id of the pending map.
type callMsg[A any] struct {
	hdr uint64
	arg A
}

const goCallBit = 1 << 63

type goCall[R any] struct {
	ch chan callResult[R] // buffered: the consumer never blocks on it
}

type callResult[R any] struct {
	r   R
	err error
}

// maxRet is the largest result a C caller can receive (FQ_MAX_RET).
const maxRet = 4096

// NewFunc returns a Func that runs fn for every call. A and R must be plain
// data, as for NewQueue; R at most 4 KiB. Config.Capacity bounds the calls
// waiting to run; a caller finding it full waits for room (within its
// timeout).
func NewFunc[A, R any](fn func(A) R, cfg Config) (*Func[A, R], error) {
	if fn == nil {
		return nil, fmt.Errorf("foreign: NewFunc: nil function")
	}
	var a A
	var r R
	for _, t := range []reflect.Type{reflect.TypeOf(&a).Elem(), reflect.TypeOf(&r).Elem()} {
		if err := checkPlain(t); err != nil {
			return nil, err
		}
	}
	if unsafe.Sizeof(r) > maxRet {
		return nil, fmt.Errorf("foreign: result size %d over %d", unsafe.Sizeof(r), maxRet)
	}
	f := &Func[A, R]{fn: fn, name: cfg.Name, onPanic: cfg.OnPanic, pending: map[uint64]*goCall[R]{}}
	if f.onPanic == nil {
		f.onPanic = logPanic
	}
	q, err := newQueueCall[callMsg[A]](cfg, int(unsafe.Sizeof(a)), int(unsafe.Sizeof(r)))
	if err != nil {
		return nil, err
	}
	f.q = q
	if cfg.Workers > 1 {
		f.work = make(chan callMsg[A], cfg.Workers)
		for range cfg.Workers {
			f.workers.Go(func() {
				for m := range f.work {
					f.serve(&m)
				}
			})
		}
		q.handle = func(vs []callMsg[A], done *int) {
			for i := range vs {
				*done = i + 1
				f.work <- vs[i]
			}
		}
	} else {
		q.handle = f.runBatch
	}
	q.start()
	return f, nil
}

// Release drops the Go side's reference (see Queue.Release).
func (f *Func[A, R]) Release() error { return f.q.Release() }

// Ref and Unref: see Queue.Ref.
func (f *Func[A, R]) Ref()   { f.q.Ref() }
func (f *Func[A, R]) Unref() { f.q.Unref() }

// runBatch serves a batch on the queue's goroutine, locked to its thread
// meanwhile so that consumer_tid names the thread a call into C from fn
// would come from (ring.h, "Calls").
func (f *Func[A, R]) runBatch(vs []callMsg[A], done *int) {
	c := f.q.r.c
	runtime.LockOSThread()
	c.consumerTid.Store(int64(syscall.Gettid()))
	defer func() {
		c.consumerTid.Store(0)
		runtime.UnlockOSThread()
	}()
	for i := range vs {
		*done = i + 1
		f.serve(&vs[i])
	}
}

// serve runs one call and hands its result to the caller.
func (f *Func[A, R]) serve(m *callMsg[A]) {
	r, err := f.invoke(m.arg)
	if m.hdr&goCallBit != 0 {
		f.mu.Lock()
		gc := f.pending[m.hdr&^goCallBit]
		delete(f.pending, m.hdr&^goCallBit)
		f.mu.Unlock()
		if gc == nil {
			f.late.Add(1) // the caller's ctx ended first
			return
		}
		gc.ch <- callResult[R]{r, err}
		return
	}
	if cComplete(m.hdr, Code(err), unsafe.Pointer(&r), unsafe.Sizeof(r)) {
		f.late.Add(1) // the C caller timed out first
	}
}

// invoke runs fn, turning a panic into an error that is reported and
// counted; the next call runs as usual.
func (f *Func[A, R]) invoke(a A) (r R, err error) {
	defer func() {
		if p := recover(); p != nil {
			f.panics.Add(1)
			err = reportPanic(f.name, f.onPanic, p)
		}
	}()
	return f.fn(a), nil
}

// Token returns the token C code passes to foreign_call.
func (f *Func[A, R]) Token() Token { return f.q.Token() }

// Call calls the function from Go and waits for its result until ctx is
// done. It returns ErrClosed after Close, a *PanicError (errors.Is
// ErrPanic) if the function panicked, ErrDeadlock if called from the
// function itself (it would wait for itself), or ctx.Err().
func (f *Func[A, R]) Call(ctx context.Context, a A) (R, error) {
	var zero R
	c := f.q.r.c
	if tid := c.consumerTid.Load(); tid != 0 && tid == int64(syscall.Gettid()) {
		return zero, ErrDeadlock
	}
	gc, _ := f.calls.Get().(*goCall[R])
	if gc == nil {
		gc = &goCall[R]{ch: make(chan callResult[R], 1)}
	}
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	f.pending[id] = gc
	f.mu.Unlock()
	forget := func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		_, ok := f.pending[id]
		delete(f.pending, id)
		return ok
	}
	pos, err := f.q.r.postWait(ctx)
	if err != nil {
		forget()
		f.calls.Put(gc)
		return zero, err
	}
	f.q.put(pos, callMsg[A]{hdr: goCallBit | id, arg: a})
	var res callResult[R]
	select {
	case res = <-gc.ch:
	case <-ctx.Done():
		if forget() {
			// Gone from pending: the consumer will never send on gc.ch.
			f.calls.Put(gc)
			c.timedOut.Add(1)
			return zero, ctx.Err()
		}
		res = <-gc.ch // the function already ran; its result is on the way
	}
	f.calls.Put(gc) // gc.ch is empty again
	return res.r, res.err
}

// Close stops accepting calls (later calls fail with ErrClosed, C:
// FOREIGN_ECLOSED) and wakes callers waiting for room. Calls accepted before
// it still run and their callers get their results; when Close returns the
// function will not be called again.
func (f *Func[A, R]) Close() error {
	err := f.q.Close()
	if f.work != nil && goid() != f.q.consumer.Load() {
		f.closeWorkers()
	}
	return err
}

// closeWorkers ends the workers once the queue has handed them its last
// call (Close has waited for that).
func (f *Func[A, R]) closeWorkers() {
	f.stopWork.Do(func() {
		close(f.work)
		f.workers.Wait()
	})
}

// Stats returns the function's counters. Posted counts accepted calls,
// TimedOut callers that gave up, LateResults results dropped because their
// caller had gone, Panics the function's panics.
func (f *Func[A, R]) Stats() Stats {
	st := f.q.Stats()
	st.LateResults = f.late.Load()
	st.Panics += f.panics.Load()
	return st
}
