package foreign

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// triple is the function the C harness expects: seq*3 + producer.
func triple(m cthreads.Msg) uint64 { return m.Seq*3 + uint64(m.Producer) }

// withFallback runs f with futex(2) and again with the portable
// condition-variable waits.
func withFallback(t *testing.T, f func(t *testing.T)) {
	t.Run("futex", f)
	t.Run("condvar", func(t *testing.T) {
		was := cSetFutex(false)
		defer cSetFutex(was)
		f(t)
	})
}

func TestCallFromCThreads(t *testing.T) {
	withFallback(t, func(t *testing.T) {
		for _, workers := range []int{1, 4} {
			f, err := NewFunc(triple, FuncConfig{Capacity: 16, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			c := cthreads.StartCallers(uintptr(f.Token()), 8, 1, 2000, -1, false)
			var res cthreads.CallResult
			within(t, 60*time.Second, "calls", func() { res = c.Wait() })
			f.Close()
			if res.OK != 16000 || res.Wrong+res.Other+res.TimedOut != 0 {
				t.Errorf("workers=%d: %+v", workers, res)
			}
			if st := f.Stats(); st.Posted != 16000 || st.Delivered != 16000 || st.LateResults != 0 {
				t.Errorf("workers=%d: stats %+v", workers, st)
			}
		}
	})
}

func TestCallFromGo(t *testing.T) {
	f, err := NewFunc(func(x int) int { return x * 2 }, FuncConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				v, err := f.Call(ctx, g*1000+i)
				if err != nil || v != 2*(g*1000+i) {
					t.Errorf("Call(%d) = %d, %v", g*1000+i, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	f.Close()
	if _, err := f.Call(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Close: %v", err)
	}
}

// A caller that times out gets ETIMEDOUT at once; the call still runs, its
// result is dropped (never written to the caller) and counted; the same
// thread's next call works.
func TestCallTimeout(t *testing.T) {
	withFallback(t, func(t *testing.T) {
		release := make(chan struct{})
		f, err := NewFunc(func(m cthreads.Msg) uint64 {
			if m.Seq == 1 {
				<-release
			}
			return triple(m)
		}, FuncConfig{})
		if err != nil {
			t.Fatal(err)
		}
		tok := uintptr(f.Token())
		arg := cthreads.Msg{Producer: 2, Seq: 1}
		ret := uint64(0xdead)
		rc := cthreads.Call(tok, unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, 5*time.Millisecond)
		if rc != fq.CodeTimedOut || ret != 0xdead {
			t.Fatalf("slow call: rc %d ret %#x", rc, ret)
		}
		close(release)
		// The next call from this goroutine (most likely the same thread,
		// and so the same slot) gets its own result, not the late one.
		for i := range 50 {
			arg = cthreads.Msg{Producer: 2, Seq: uint64(10 + i)}
			rc = cthreads.Call(tok, unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, -1)
			if rc != 0 || ret != triple(arg) {
				t.Fatalf("call after timeout: rc %d ret %d", rc, ret)
			}
		}
		// Go callers time out through ctx.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		release2 := make(chan struct{})
		g, _ := NewFunc(func(int) int { <-release2; return 1 }, FuncConfig{})
		if _, err := g.Call(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Go call: %v", err)
		}
		close(release2)
		f.Close()
		g.Close()
		if st := f.Stats(); st.LateResults != 1 || st.TimedOut != 1 {
			t.Errorf("C stats %+v", st)
		}
		if st := g.Stats(); st.LateResults != 1 || st.TimedOut != 1 {
			t.Errorf("Go stats %+v", st)
		}
	})
}

// Callers blocked in foreign_call when Close comes: every accepted call
// runs and returns its result; the rest get ECLOSED; none hangs.
func TestCallCloseWithBlockedCallers(t *testing.T) {
	f, err := NewFunc(func(m cthreads.Msg) uint64 {
		time.Sleep(100 * time.Microsecond)
		return triple(m)
	}, FuncConfig{Capacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := cthreads.StartCallers(uintptr(f.Token()), 8, 0, 0, -1, true)
	time.Sleep(20 * time.Millisecond)
	f.Close()
	var res cthreads.CallResult
	within(t, 10*time.Second, "callers after Close", func() { res = c.Wait() })
	st := f.Stats()
	if res.Closed != 8 || res.Wrong+res.Other+res.TimedOut != 0 || res.OK != st.Posted || st.Posted == 0 {
		t.Errorf("%+v, stats %+v", res, st)
	}
}

// The function calls into C, which calls the same function back: that
// would wait for itself, so it fails with EDEADLK at once; from Go, with
// ErrDeadlock.
func TestCallReentrant(t *testing.T) {
	var f *Func[cthreads.Msg, uint64]
	var cCode atomic.Int64
	var goErr atomic.Value
	f, err := NewFunc(func(m cthreads.Msg) uint64 {
		if m.Seq == 7 {
			arg := cthreads.Msg{Seq: 8}
			var ret uint64
			cCode.Store(int64(cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, -1)))
			_, err := f.Call(context.Background(), arg)
			goErr.Store(err)
		}
		return triple(m)
	}, FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "re-entrant call", func() {
		v, err := f.Call(context.Background(), cthreads.Msg{Seq: 7})
		if err != nil || v != 21 {
			t.Errorf("outer call: %v %v", v, err)
		}
	})
	f.Close()
	if cCode.Load() != int64(fq.CodeDeadlock) {
		t.Errorf("C call from the function's own thread: %d", cCode.Load())
	}
	if err, _ := goErr.Load().(error); !errors.Is(err, ErrDeadlock) {
		t.Errorf("Go call from the function: %v", err)
	}
}

func TestCallPanic(t *testing.T) {
	var reports atomic.Int64
	f, err := NewFunc(func(m cthreads.Msg) uint64 {
		if m.Seq%5 == 0 {
			panic("five")
		}
		return triple(m)
	}, FuncConfig{OnPanic: func(*PanicError) { reports.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	c := cthreads.StartCallers(uintptr(f.Token()), 2, 0, 100, -1, false)
	res := c.Wait()
	if _, err := f.Call(context.Background(), cthreads.Msg{Seq: 10}); !errors.Is(err, ErrPanic) {
		t.Errorf("Go call: %v", err)
	}
	f.Close()
	if res.Panicked != 40 || res.OK != 160 || reports.Load() != 41 || f.Stats().Panics != 41 {
		t.Errorf("%+v reports %d stats %+v", res, reports.Load(), f.Stats())
	}
}

func TestCallBadInput(t *testing.T) {
	f, err := NewFunc(triple, FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(func(cthreads.Msg) {}, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	arg := cthreads.Msg{}
	var ret uint64
	ap, an, rp := unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret)
	ft, qt := uintptr(f.Token()), uintptr(q.Token())
	for _, tc := range []struct {
		what string
		rc   int
		want int
	}{
		{"post to a func", cthreads.Post(ft, ap, an), fq.CodeInval},
		{"call to a queue", cthreads.Call(qt, ap, an, rp, 8, -1), fq.CodeInval},
		{"token 0", cthreads.Call(0, ap, an, rp, 8, -1), fq.CodeInval},
		{"short arg", cthreads.Call(ft, ap, an-1, rp, 8, -1), fq.CodeInval},
		{"long ret", cthreads.Call(ft, ap, an, rp, 9, -1), fq.CodeInval},
		{"NULL arg", cthreads.Call(ft, nil, an, rp, 8, -1), fq.CodeInval},
		{"NULL ret", cthreads.Call(ft, ap, an, nil, 8, -1), fq.CodeInval},
		{"good", cthreads.Call(ft, ap, an, rp, 8, -1), 0},
	} {
		if tc.rc != tc.want {
			t.Errorf("%s: got %d want %d", tc.what, tc.rc, tc.want)
		}
	}
	f.Close()
	q.Close()
	if rc := cthreads.Call(ft, ap, an, rp, 8, -1); rc != fq.CodeClosed {
		t.Errorf("closed: %d", rc)
	}
	if _, err := NewFunc(func(int) [16<<20 + 1]byte { return [16<<20 + 1]byte{} }, FuncConfig{}); err == nil {
		t.Error("a result over 16 MiB was accepted")
	}
	if _, err := NewFunc(func(string) int { return 0 }, FuncConfig{}); err == nil {
		t.Error("a string argument was accepted")
	}
}

// 8 threads post_wait into queues of capacity 1 to 4: each waiter is woken
// when room appears, and every message arrives, in order.
func TestPostWait(t *testing.T) {
	withFallback(t, func(t *testing.T) {
		for _, capacity := range []int{1, 2, 4} {
			chk := newSeqChecker()
			q, err := NewQueue(chk.see, QueueConfig{Capacity: capacity})
			if err != nil {
				t.Fatal(err)
			}
			w := cthreads.StartWaiters(uintptr(q.Token()), 8, 0, 3000, -1)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range uint64(3000) {
						if err := q.PostWait(context.Background(), cthreads.Msg{Producer: uint32(8 + g), Seq: i}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			var acc []uint64
			var codes []int
			within(t, 60*time.Second, "waiters", func() { acc, codes = w.Wait(); wg.Wait() })
			q.Close()
			for i, c := range codes {
				if c != 0 {
					t.Errorf("capacity %d: waiter %d stopped with %d", capacity, i, c)
				}
			}
			chk.check(t, 0, append(acc, 3000, 3000, 3000, 3000))
			if st := q.Stats(); st.Delivered != 12*3000 || st.RejectedFull != 0 {
				t.Errorf("capacity %d: %+v", capacity, st)
			}
		}
	})
}

// Waiting posts give up at their timeout, and Close wakes the rest with
// ECLOSED — from C threads and from goroutines.
func TestPostWaitTimeoutAndClose(t *testing.T) {
	withFallback(t, func(t *testing.T) {
		q, err := NewPullQueue[cthreads.Msg](PullConfig{Capacity: 2}) // nobody reads
		if err != nil {
			t.Fatal(err)
		}
		q.Post(cthreads.Msg{})
		q.Post(cthreads.Msg{})
		start := time.Now()
		m := cthreads.Msg{}
		w := cthreads.StartWaiters(uintptr(q.Token()), 1, 0, 1, 10*time.Millisecond)
		acc, codes := w.Wait()
		if codes[0] != fq.CodeTimedOut || acc[0] != 0 || time.Since(start) < 10*time.Millisecond {
			t.Fatalf("post_wait on a full queue: %v %v after %v", codes, acc, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := q.PostWait(ctx, m); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PostWait on a full queue: %v", err)
		}

		w = cthreads.StartWaiters(uintptr(q.Token()), 8, 0, 1, -1)
		goErrs := make(chan error, 4)
		for range 4 {
			go func() { goErrs <- q.PostWait(context.Background(), m) }()
		}
		time.Sleep(20 * time.Millisecond) // let them all block
		q.Close()
		within(t, 10*time.Second, "waiters after Close", func() {
			_, codes = w.Wait()
			for range 4 {
				if err := <-goErrs; !errors.Is(err, ErrClosed) {
					t.Errorf("Go waiter: %v", err)
				}
			}
		})
		for i, c := range codes {
			if c != fq.CodeClosed {
				t.Errorf("C waiter %d: %d", i, c)
			}
		}
		if st := q.Stats(); st.TimedOut != 2 || st.RejectedClosed != 12 {
			t.Errorf("stats %+v", st)
		}
	})
}
