package foreign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// What Stats promises, and what readers, errors and the race detector see
// at the edges. Each failed on the commit before its fix.

// Posted never goes backwards while producers run (it is the tail, not
// Delivered + Depth read apart); Delivered counts what reached the
// handler, Depth the rest, and HighWater is never below Depth.
func TestStatsWhileRunning(t *testing.T) {
	gate := make(chan struct{})
	var handled atomic.Int64
	q, _ := NewQueue(func(cthreads.Msg) { <-gate; handled.Add(1) }, QueueConfig{Capacity: 64})
	for range 10 {
		q.Post(cthreads.Msg{})
	}
	waitFor(t, "the handler holding the first message", func() bool { return q.Stats().Posted == 10 })
	time.Sleep(10 * time.Millisecond) // the consumer has taken its batch by now
	st := q.Stats()
	if st.Delivered != 0 || st.Depth != 10 || st.HighWater < st.Depth {
		t.Errorf("with the handler held on the first message: %+v; want Delivered 0, Depth 10, HighWater >= 10", st)
	}
	close(gate)
	q.Close()
	if st := q.Stats(); st.Delivered != 10 || st.Depth != 0 || st.Posted != 10 {
		t.Errorf("after Close: %+v", st)
	}

	p, _ := NewPullQueue[uint64](PullConfig{Capacity: 8})
	for p.Post(1) == nil {
	}
	if st := p.Stats(); st.Depth != 8 || st.HighWater != 8 {
		t.Errorf("a full, unread pull queue: %+v; want Depth and HighWater 8", st)
	}
	p.Close()

	q2, _ := NewQueue(func(cthreads.Msg) {}, QueueConfig{Capacity: 1024})
	prod := cthreads.Start(uintptr(q2.Token()), 1, 0, 300_000, false)
	var last, backwards uint64
	done := make(chan struct{})
	go func() { prod.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		st := q2.Stats()
		if st.Posted < last {
			backwards++
		}
		last = st.Posted
	}
	q2.Close()
	if backwards != 0 {
		t.Errorf("Posted went backwards %d times", backwards)
	}
}

// A refusal because the handle is closed is counted the same way on every
// path: C and Go posts, waiting posts, calls.
func TestRejectedClosedEveryPath(t *testing.T) {
	q, _ := NewQueue(func(uint64) {}, QueueConfig{Capacity: 2})
	q.Close()
	v := uint64(1)
	cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&v), 8)
	cthreads.PostWait(uintptr(q.Token()), unsafe.Pointer(&v), 8, time.Second)
	q.Post(1)
	q.PostWait(context.Background(), 1)
	if st := q.Stats(); st.RejectedClosed != 4 {
		t.Errorf("RejectedClosed %d after 4 refused posts (C, C waiting, Go, Go waiting)", st.RejectedClosed)
	}
	f, _ := NewFunc(func(a uint64) uint64 { return a }, FuncConfig{})
	f.Close()
	var r uint64
	cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&v), 8, unsafe.Pointer(&r), 8, time.Second)
	f.Call(context.Background(), 1)
	if st := f.Stats(); st.RejectedClosed != 2 {
		t.Errorf("RejectedClosed %d after 2 refused calls (C, Go)", st.RejectedClosed)
	}
}

// A reader waiting for another reader gives up when its context is done.
// (Before: it waited on a mutex no context could interrupt.)
func TestPullRecvWaitingForAnotherReader(t *testing.T) {
	q, _ := NewPullQueue[uint64](PullConfig{})
	first := make(chan error, 1)
	go func() { _, err := q.Recv(context.Background()); first <- err }()
	time.Sleep(20 * time.Millisecond) // the first reader parks
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	within(t, 5*time.Second, "the second reader's Recv", func() {
		if _, err := q.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second reader: %v, want its deadline", err)
		}
	})
	q.Post(7)
	within(t, 5*time.Second, "the first reader", func() { <-first })
	q.Close()
}

// The Loop's ready queue is not reachable from outside, so no stray post
// can take the room its handles' schedules need. (Before: Loop.Token()
// handed it out; two C posts into it wedged the Loop, and Close hung.)
func TestLoopReadyQueueNotExposed(t *testing.T) {
	type tokener interface{ Token() Token }
	var l any = &Loop{}
	if _, ok := l.(tokener); ok {
		t.Fatal("Loop has a Token method: its ready queue can be posted into from C")
	}
}

// A Func with workers whose function panics: no data race in the library
// (go test -race). (Before: every worker wrote one plain field.)
func TestWorkersPanicNoRace(t *testing.T) {
	f, _ := NewFunc(func(x int) int {
		if x%2 == 0 {
			panic("even")
		}
		return x
	}, FuncConfig{Workers: 4, OnPanic: func(*PanicError) {}})
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for k := range 50 {
				f.Call(context.Background(), g*100+k)
			}
		}()
	}
	for range 4 {
		<-done
	}
	f.Close()
	if st := f.Stats(); st.Panics != 100 {
		t.Errorf("Panics %d, want 100", st.Panics)
	}
}

// A Signal (or Trigger) from Go happens before the delivery it causes, for
// the race detector too, with or without a handler. (Before: -race
// reported data written before Signal and read after the Context ended.)
func TestSignalHappensBeforeDelivery(t *testing.T) {
	var x int
	i, _ := NewInterrupt(nil, InterruptConfig{})
	go func() {
		x = 42
		i.Signal(1)
	}()
	<-i.Context().Done()
	if x != 42 {
		t.Errorf("x = %d", x)
	}
	i.Close()
	var y int
	ran := make(chan struct{})
	n, _ := NewNotifier(func() { _ = y; close(ran) }, NotifierConfig{})
	go func() {
		y = 1
		n.Trigger()
	}()
	<-ran
	n.Close()
}

// Calls with a context already done do not run the function; context
// errors map to FOREIGN_ETIMEDOUT; a value outside int32 is refused by
// Signal; a type that is not plain data is ErrInvalid.
func TestEdgesOfTheGoAPI(t *testing.T) {
	var runs atomic.Int64
	f, _ := NewFunc(func(x int) int { runs.Add(1); return x }, FuncConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 10 {
		if _, err := f.Call(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Call with a cancelled context: %v", err)
		}
	}
	f.Close()
	if runs.Load() != 0 {
		t.Errorf("the function ran %d times for calls whose context was done", runs.Load())
	}
	if Code(context.DeadlineExceeded) != fq.CodeTimedOut || Code(context.Canceled) != fq.CodeTimedOut {
		t.Errorf("context errors map to %d and %d, want FOREIGN_ETIMEDOUT", Code(context.DeadlineExceeded), Code(context.Canceled))
	}
	i, _ := NewInterrupt(nil, InterruptConfig{})
	if err := i.Signal(1<<40 + 7); !errors.Is(err, ErrInvalid) {
		t.Errorf("Signal(1<<40+7): %v", err)
	}
	i.Close()
	if _, err := NewQueue(func(*int) {}, QueueConfig{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a pointer message type: %v", err)
	}
	if _, err := NewFunc(func(int) string { return "" }, FuncConfig{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a string result: %v", err)
	}
}

// Stats logs as a log/slog group of its counters, each by name.
func TestStatsLogValue(t *testing.T) {
	q, err := NewQueue(func(int) {}, QueueConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.Close()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("done", "queue", q.Stats())
	var rec struct {
		Queue map[string]float64 `json:"queue"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	want := map[string]float64{"capacity": 8, "posted": 3, "delivered": 3, "depth": 0, "rejected_full": 0,
		"rejected_closed": 0, "wakeups": rec.Queue["wakeups"], "panics": 0, "timed_out": 0, "late_results": 0,
		"high_water": rec.Queue["high_water"], "posted_bytes": 0, "delivered_bytes": 0}
	if len(rec.Queue) != len(want) {
		t.Fatalf("logged %v", rec.Queue)
	}
	for k, v := range want {
		if got, ok := rec.Queue[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
}
