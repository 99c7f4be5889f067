package foreign

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// A C thread cancelled (pthread_cancel), or exiting through pthread_exit
// in a signal handler, while it blocks in foreign_post_wait or
// foreign_call leaves the handle working: no waiter left counted, no
// bucket lock held, later posts and calls delivered, Close returns; on
// both wait paths. (Before, on the condition-variable path: the bucket
// mutex stayed locked, the queue stopped and Close hung.)
func TestBlockedThreadEnds(t *testing.T) {
	if underASan {
		t.Skip("ASan cannot follow a thread's cancellation unwinding (asan_test.go)")
	}
	for _, futex := range []bool{true, false} {
		for _, end := range []int{cthreads.EndCancel, cthreads.EndExit} {
			name := fmt.Sprintf("futex=%v/end=%d", futex, end)
			t.Run(name+"/post_wait", func(t *testing.T) {
				was := cSetFutex(futex)
				defer cSetFutex(was)
				blockedPostWait(t, end)
			})
			t.Run(name+"/call", func(t *testing.T) {
				was := cSetFutex(futex)
				defer cSetFutex(was)
				blockedCall(t, end)
			})
		}
	}
}

func blockedPostWait(t *testing.T, end int) {
	gate := make(chan struct{})
	taken := make(chan struct{}, 1)
	chk := newSeqChecker()
	q, err := NewQueue(func(m cthreads.Msg) {
		if m.Producer == 1 && m.Seq == 0 {
			taken <- struct{}{}
			<-gate
		}
		chk.see(m)
	}, QueueConfig{Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	q.Post(cthreads.Msg{Producer: 1, Seq: 0})
	<-taken
	q.Post(cthreads.Msg{Producer: 1, Seq: 1}) // the ring is full now
	ended, rc, err := cthreads.EndBlocked(uintptr(q.Token()), false, end, 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !ended {
		t.Fatalf("the waiter was not ended inside foreign_post_wait (it returned %d)", rc)
	}
	if w := q.h.Waiters(); w != 0 {
		t.Errorf("waiters = %d after the waiter ended", w)
	}
	if st := q.Stats(); st.TimedOut != 1 {
		t.Errorf("TimedOut %d after a waiter ended: it gave up, as on a timeout", st.TimedOut)
	}
	close(gate)
	// A waiter after it is woken as usual, and the queue delivers.
	p := cthreads.StartWaiters(uintptr(q.Token()), 2, 10, 500, 10*time.Second)
	accepted, codes := p.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("waiter %d: code %d", i, c)
		}
	}
	within(t, 10*time.Second, "Close", func() { q.Close() })
	chk.check(t, 10, accepted)
	if st := q.Stats(); st.Delivered != 2+sum(accepted) {
		t.Errorf("delivered %d, want %d", st.Delivered, 2+sum(accepted))
	}
}

func blockedCall(t *testing.T, end int) {
	gate := make(chan struct{})
	taken := make(chan struct{}, 1)
	f, err := NewFunc(func(m cthreads.Msg) uint64 {
		if m.Producer == 9 {
			taken <- struct{}{}
			<-gate
		}
		return m.Seq*3 + uint64(m.Producer)
	}, FuncConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	go f.Call(context.Background(), cthreads.Msg{Producer: 9}) // holds the function
	<-taken
	ended, rc, err := cthreads.EndBlocked(uintptr(f.Token()), true, end, 30*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !ended {
		t.Fatalf("the caller was not ended inside foreign_call (it returned %d)", rc)
	}
	close(gate)
	// The ended caller's call still runs; its result is dropped, and the
	// callers after it get theirs.
	res := cthreads.StartCallers(uintptr(f.Token()), 4, 1, 300, 10*time.Second, false).Wait()
	if res.OK != 4*300 || res.Wrong != 0 || res.Other != 0 {
		t.Errorf("callers after: %+v", res)
	}
	within(t, 10*time.Second, "Close", func() { f.Close() })
	if st := f.Stats(); st.LateResults != 1 || st.TimedOut != 1 {
		t.Errorf("LateResults %d, TimedOut %d; want 1 and 1 (the ended caller's)", st.LateResults, st.TimedOut)
	}
}
