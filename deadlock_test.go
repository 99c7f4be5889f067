package foreign

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// A waiting post from the consumer's own thread into its full queue fails
// at once with ErrDeadlock / FOREIGN_EDEADLK, from Go and through C.
// (Before: it waited out its timeout, or for ever with none.)
func TestPostWaitFromOwnHandler(t *testing.T) {
	type res struct {
		goErr  error
		cCode  int
		waited time.Duration
	}
	got := make(chan res, 1)
	var q *Queue[cthreads.Msg]
	q, err := NewQueue(func(m cthreads.Msg) {
		if m.Seq != 0 {
			return
		}
		for q.Post(cthreads.Msg{Seq: 1}) == nil { // fill the ring
		}
		start := time.Now()
		goErr := q.PostWait(context.Background(), cthreads.Msg{Seq: 2}) // no limit
		m2 := cthreads.Msg{Seq: 3}
		code := cthreads.PostWait(uintptr(q.Token()), unsafe.Pointer(&m2), unsafe.Sizeof(m2), -1)
		got <- res{goErr, code, time.Since(start)}
	}, QueueConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	q.Post(cthreads.Msg{})
	var r res
	within(t, 10*time.Second, "PostWait from the handler", func() { r = <-got })
	if !errors.Is(r.goErr, ErrDeadlock) || r.cCode != fq.CodeDeadlock {
		t.Errorf("PostWait from the handler: Go %v, C %d; want ErrDeadlock, EDEADLK", r.goErr, r.cCode)
	}
	if r.waited > time.Second {
		t.Errorf("the refusal took %v", r.waited)
	}
	q.Close()
}

// A handler on a Loop that calls a Func served by the same Loop, or waits
// to post into a full queue on it, fails at once instead of waiting for
// itself. (Before: it waited for ever.)
func TestLoopSelfDeadlock(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	f, err := NewFunc(func(m cthreads.Msg) uint64 { return m.Seq * 3 }, FuncConfig{Loop: l})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := NewQueue(func(cthreads.Msg) {}, QueueConfig{Loop: l, Capacity: 1})
	type res struct {
		goCall error
		cCall  int
		cWait  int
		goWait error
	}
	got := make(chan res, 1)
	q, _ := NewQueue(func(int) {
		var r res
		_, r.goCall = f.Call(context.Background(), cthreads.Msg{Seq: 1})
		arg := cthreads.Msg{Seq: 2}
		var ret uint64
		r.cCall = cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, -1)
		for full.Post(cthreads.Msg{}) == nil {
		}
		r.goWait = full.PostWait(context.Background(), cthreads.Msg{})
		r.cWait = cthreads.PostWait(uintptr(full.Token()), unsafe.Pointer(&arg), unsafe.Sizeof(arg), -1)
		got <- r
	}, QueueConfig{Loop: l})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	q.Post(1)
	var r res
	within(t, 10*time.Second, "calls from a Loop handler into the Loop", func() { r = <-got })
	if !errors.Is(r.goCall, ErrDeadlock) || r.cCall != fq.CodeDeadlock {
		t.Errorf("call into the same Loop: Go %v, C %d", r.goCall, r.cCall)
	}
	if !errors.Is(r.goWait, ErrDeadlock) || r.cWait != fq.CodeDeadlock {
		t.Errorf("PostWait into a full queue on the same Loop: Go %v, C %d", r.goWait, r.cWait)
	}
	// From outside the Loop the same call is served.
	if v, err := f.Call(context.Background(), cthreads.Msg{Seq: 5}); v != 15 || err != nil {
		t.Errorf("call from outside: %d %v", v, err)
	}
	cancel()
	<-done
	l.Close()
}

// A foreign_call from a signal handler that interrupted the same thread's
// foreign_call is refused; the outer call completes with its own result.
// (Before: the inner call reused the thread's slot and destroyed the
// outer call's result.)
func TestNestedCallOnOneThread(t *testing.T) {
	f, err := NewFunc(func(m cthreads.Msg) uint64 {
		if m.Producer == 1 {
			time.Sleep(200 * time.Millisecond) // the outer call: long enough to be interrupted
		}
		return m.Seq * 10
	}, FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, futex := range []bool{true, false} {
		was := cSetFutex(futex)
		outer, outerRC, _, innerRC := cthreads.NestedSignalCall(uintptr(f.Token()), 5, 6, 50*time.Millisecond)
		cSetFutex(was)
		if outerRC != 0 || outer != 50 {
			t.Errorf("futex=%v: the outer call got %d (code %d), want 50", futex, outer, outerRC)
		}
		if innerRC != fq.CodeDeadlock {
			t.Errorf("futex=%v: the nested call got code %d, want EDEADLK", futex, innerRC)
		}
	}
	f.Close()
}
