package foreign

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// reuse opens handles with open until one lands in the control block that
// tok named, closing the others on the way. Freed blocks are reused oldest
// first, so every freed block comes round within as many opens as there
// are free blocks.
func reuse[H interface {
	Token() Token
	Close() error
}](t *testing.T, tok Token, open func() (H, error)) H {
	t.Helper()
	for range 1 << 17 {
		h, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if h.Token()&0xFFFF == tok&0xFFFF {
			if h.Token() == tok {
				t.Fatalf("token %#x issued twice", tok)
			}
			return h
		}
		h.Close()
	}
	t.Fatalf("the block of %#x was never reused", tok)
	panic("unreachable")
}

// A queue freed by Release is inert once another queue has its block:
// Close, Post, Release and Stats through the old value do not touch the
// new queue. (Before: q1.Close() closed q2.)
func TestFreedQueueIsInert(t *testing.T) {
	fin := make(chan struct{})
	q1, err := NewQueue(func(int) {}, QueueConfig{OnClose: func() { close(fin) }})
	if err != nil {
		t.Fatal(err)
	}
	q1.Post(1)
	q1.Release() // no C references: closes, delivers, frees
	within(t, 5*time.Second, "OnClose after Release", func() { <-fin })
	var got atomic.Int64
	q2 := reuse(t, q1.Token(), func() (*Queue[int], error) {
		return NewQueue(func(v int) { got.Add(int64(v)) }, QueueConfig{})
	})
	q1.Close()
	q1.Release()
	if err := q1.Post(5); err != ErrClosed {
		t.Errorf("Post through the freed queue: %v, want ErrClosed", err)
	}
	v := int(7)
	if rc := cthreads.Post(uintptr(q1.Token()), unsafe.Pointer(&v), unsafe.Sizeof(v)); rc != fq.CodeClosed {
		t.Errorf("foreign_post with the freed queue's token: %d, want ECLOSED", rc)
	}
	if err := q2.Post(2); err != nil {
		t.Fatalf("the queue that reused the block: Post = %v (closed through the old value?)", err)
	}
	if st := q1.Stats(); st.Delivered != 1 || st.Depth != 0 {
		t.Errorf("old queue's stats %+v, want its own (1 delivered)", st)
	}
	q2.Close()
	if got.Load() != 2 {
		t.Errorf("new queue handled %d, want 2", got.Load())
	}
}

// A single-shot notifier closes itself after its run; a deferred Close on
// it must not close the notifier that reuses its block.
func TestFreedNotifierIsInert(t *testing.T) {
	fin := make(chan struct{})
	n1, err := NewNotifier(func() {}, NotifierConfig{OnClose: func() { close(fin) }})
	if err != nil {
		t.Fatal(err)
	}
	n1.Trigger()
	within(t, 5*time.Second, "single-shot run and free", func() { <-fin })
	ran := make(chan struct{}, 1)
	n2 := reuse(t, n1.Token(), func() (*Notifier, error) {
		return NewNotifier(func() { ran <- struct{}{} }, NotifierConfig{})
	})
	n1.Close() // the plain `defer n.Close()` of a user
	if err := n1.Trigger(); err != ErrClosed {
		t.Errorf("Trigger through the old notifier: %v", err)
	}
	if n2.Closed() {
		t.Fatal("the notifier that reused the block was closed through the old value")
	}
	if err := n2.Trigger(); err != nil {
		t.Fatalf("Trigger of the new notifier: %v", err)
	}
	within(t, 5*time.Second, "the new notifier runs", func() { <-ran })
	n2.Close()
}

// Pending and Take through a freed interrupt never see or steal the
// signal of the interrupt that reused its block.
func TestFreedInterruptIsInert(t *testing.T) {
	i1, err := NewInterrupt(nil, InterruptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	i1.Close()
	i2 := reuse(t, i1.Token(), func() (*Interrupt, error) { return NewInterrupt(nil, InterruptConfig{}) })
	if err := i2.Signal(42); err != nil {
		t.Fatal(err)
	}
	if i1.Pending() {
		t.Error("the freed interrupt reports the new one's signal as pending")
	}
	if v, ok := i1.Take(); ok {
		t.Errorf("the freed interrupt took the new one's signal (%d)", v)
	}
	if i1.Fd() != -1 {
		t.Errorf("the freed interrupt's Fd = %d, want -1", i1.Fd())
	}
	i1.Block()
	i1.Unblock() // its kick is generation-checked: it reaches nobody
	if v, ok := i2.Take(); !ok || v != 42 {
		t.Errorf("the new interrupt's signal: %d, %v; want 42", v, ok)
	}
	i2.Close()
}

// C cannot release the reference the Go side holds: a foreign_release
// without a matching acquire is refused and changes nothing. (Before:
// acquire, release, release returned 0 and closed the queue.)
func TestCReleaseCannotDropGoReference(t *testing.T) {
	var got atomic.Int64
	q, err := NewQueue(func(v int) { got.Add(int64(v)) }, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tok := uintptr(q.Token())
	if rc := cthreads.Acquire(tok); rc != 0 {
		t.Fatalf("acquire: %d", rc)
	}
	if rc := cthreads.Release(tok); rc != 0 {
		t.Fatalf("release: %d", rc)
	}
	if rc := cthreads.Release(tok); rc != fq.CodeInval {
		t.Errorf("an unmatched release: %d, want EINVAL", rc)
	}
	if err := q.Post(3); err != nil {
		t.Fatalf("the queue was closed by C: Post = %v", err)
	}
	// The Go side's reference goes with Release; a C reference taken
	// before keeps the queue open until its release.
	if rc := cthreads.Acquire(tok); rc != 0 {
		t.Fatal(rc)
	}
	q.Release()
	q.Release() // a second Release does nothing
	if err := q.Post(4); err != nil {
		t.Fatalf("open while C holds a reference: %v", err)
	}
	if rc := cthreads.Release(tok); rc != 0 {
		t.Fatal(rc)
	}
	within(t, 5*time.Second, "closed by the last C release", func() {
		for q.Post(0) != ErrClosed {
			time.Sleep(time.Millisecond)
		}
	})
	if rc := cthreads.Acquire(tok); rc != fq.CodeClosed {
		t.Errorf("acquire after the last release: %d", rc)
	}
	q.Close()
	if got.Load() != 7 {
		t.Errorf("delivered sum %d, want 7", got.Load())
	}
}

// A panicking OnClose is recovered, counted and reported, on a handle's
// own goroutine and on a Loop. (Before: the process exited with status 2.)
func TestOnClosePanicRecovered(t *testing.T) {
	var reports atomic.Int64
	onPanic := func(e *PanicError) {
		if e.Value == "close boom" {
			reports.Add(1)
		}
	}
	boom := func() { panic("close boom") }
	q, err := NewQueue(func(int) {}, QueueConfig{OnClose: boom, OnPanic: onPanic})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if st := q.Stats(); st.Panics != 1 {
		t.Errorf("queue: Panics %d, want 1", st.Panics)
	}
	n, _ := NewNotifier(func() {}, NotifierConfig{OnClose: boom, OnPanic: onPanic})
	n.Close()
	l, _ := NewLoop(LoopConfig{})
	lq, _ := NewQueue(func(int) {}, QueueConfig{Loop: l, OnClose: boom, OnPanic: onPanic})
	lf, _ := NewFunc(func(int) int { return 0 }, FuncConfig{Loop: l, OnClose: boom, OnPanic: onPanic})
	li, _ := NewInterrupt(func(int) {}, InterruptConfig{Loop: l, OnClose: boom, OnPanic: onPanic})
	go l.Run(t.Context())
	for _, h := range []interface{ Close() error }{lq, lf, li} {
		within(t, 5*time.Second, "Close on the Loop", func() { h.Close() })
	}
	l.Close()
	if reports.Load() != 5 {
		t.Errorf("%d OnClose panics reported, want 5", reports.Load())
	}
	// A panicking OnPanic is logged, not raised.
	q2, _ := NewQueue(func(int) { panic("handler") }, QueueConfig{OnPanic: func(*PanicError) { panic("hook") }})
	q2.Post(1)
	q2.Close()
}

// Counted empty messages: a Queue[struct{}] calls its handler once per
// post, from C (length 0, no buffer) and from Go.
func TestEmptyMessages(t *testing.T) {
	var n atomic.Int64
	q, err := NewQueue(func(struct{}) { n.Add(1) }, QueueConfig{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	posted := 0
	for posted < 500 {
		if rc := cthreads.Post(uintptr(q.Token()), nil, 0); rc == 0 {
			posted++
		}
		if q.Post(struct{}{}) == nil {
			posted++
		}
	}
	if rc := cthreads.Post(uintptr(q.Token()), nil, 1); rc != fq.CodeInval {
		t.Errorf("NULL with a length: %d", rc)
	}
	q.Close()
	if n.Load() != int64(posted) {
		t.Errorf("%d handler calls for %d posts", n.Load(), posted)
	}
}

// The leak check of TestMain sees a consumer that was never closed.
func TestLeakCheckSeesLeak(t *testing.T) {
	q, err := NewQueue(func(int) {}, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := NewFunc(func(int) int { return 0 }, FuncConfig{Workers: 2})
	leaked := libraryGoroutines(100 * time.Millisecond)
	if !strings.Contains(leaked, "consume") || !strings.Contains(leaked, "work1") {
		t.Errorf("the leak check missed an open queue and a Func's workers:\n%s", leaked)
	}
	q.Close()
	f.Close()
	if leaked := libraryGoroutines(5 * time.Second); leaked != "" {
		t.Errorf("left after Close:\n%s", leaked)
	}
}

// A panic in a PullQueue's OnClose is counted too.
func TestPullOnClosePanicCounted(t *testing.T) {
	p, _ := NewPullQueue[int](PullConfig{OnClose: func() { panic("boom") }})
	p.Close()
	if st := p.Stats(); st.Panics != 1 {
		t.Errorf("Panics %d, want 1", st.Panics)
	}
}
