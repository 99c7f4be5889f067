package foreign

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// A child of fork() that inherited live handles gets FOREIGN_ECLOSED at once
// from every call, the blocking ones included, even when another parent
// thread was opening and freeing handles (taking the library's locks) at
// the fork; the parent goes on unaffected.
func TestForkChild(t *testing.T) {
	var got atomic.Int64
	q, _ := NewQueue(func(cthreads.Msg) { got.Add(1) }, QueueConfig{Capacity: 1}) // full at once: post_wait would block
	f, _ := NewFunc(func(m cthreads.Msg) uint64 { return m.Seq }, FuncConfig{})
	i, _ := NewInterrupt(nil, InterruptConfig{})
	n, _ := NewNotifier(func() {}, NotifierConfig{Repeat: true})
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := NewPullQueue[int](PullConfig{})
			if err == nil {
				p.Close()
			}
		}
	})
	for round := range 20 {
		if bad := cthreads.ForkChild(uintptr(q.Token()), uintptr(f.Token()), uintptr(i.Token()), uintptr(n.Token())); bad != 0 {
			t.Fatalf("round %d: the child's calls: status %d (-1: it hung; else a bit per call that was not ECLOSED)", round, bad)
		}
	}
	close(stop)
	churn.Wait()
	for range 10 {
		for q.Post(cthreads.Msg{}) != nil {
		}
	}
	if r, err := f.Call(context.Background(), cthreads.Msg{Seq: 9}); r != 9 || err != nil {
		t.Errorf("parent's call after the forks: %d %v", r, err)
	}
	for _, h := range []interface{ Close() error }{q, f, i, n} {
		h.Close()
	}
	if got.Load() != 10 {
		t.Errorf("parent delivered %d of 10 after the forks", got.Load())
	}
}
