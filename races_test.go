package foreign

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// Races between closing a Loop, closing its handles, Run starting and
// returning, and handles joining; a handler's runtime.Goexit; nested
// serving. Each hung or lost messages before the fix it names.

// A second Loop.Close waits for the first to finish. (Before: it returned
// before any delivery.)
func TestLoopCloseTwiceWaits(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	var delivered atomic.Int64
	var closed atomic.Bool
	q, _ := NewQueue(func(int) { time.Sleep(5 * time.Millisecond); delivered.Add(1) },
		QueueConfig{Loop: l, OnClose: func() { closed.Store(true) }})
	for k := range 10 {
		q.Post(k)
	}
	go l.Run(context.Background())
	waitFor(t, "Run started", l.isRunning)
	go l.Close()
	time.Sleep(time.Millisecond)
	within(t, 10*time.Second, "second Loop.Close", func() { l.Close() })
	if delivered.Load() != 10 || !closed.Load() {
		t.Errorf("second Close returned after %d of 10 deliveries, OnClose %v", delivered.Load(), closed.Load())
	}
}

// Loop.Close racing Run's return, with unreferenced handles holding
// messages, and handles joining the Loop while it closes. (Before: Run's
// return closed the ready queue under Close, whose handles were then never
// scheduled: Close hung.)
func TestLoopCloseRaces(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	for round := range rounds {
		l, _ := NewLoop(LoopConfig{})
		var got, joinedClosed atomic.Int64
		for range 20 {
			q, _ := NewQueue(func(int) { got.Add(1) }, QueueConfig{Loop: l})
			q.Post(1)
			q.Unref()
		}
		keep, _ := NewNotifier(func() {}, NotifierConfig{Loop: l, Repeat: true}) // keeps Run going
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan struct{})
		go func() { l.Run(ctx); close(runDone) }()
		var wg sync.WaitGroup
		wg.Go(func() { spin(rand.IntN(20000)); cancel() })
		var joined *Queue[int]
		wg.Go(func() {
			spin(rand.IntN(20000))
			joined, _ = NewQueue(func(int) {}, QueueConfig{Loop: l, OnClose: func() { joinedClosed.Add(1) }})
		})
		within(t, 10*time.Second, "Loop.Close racing Run's return and a join", func() { l.Close() })
		wg.Wait()
		<-runDone
		if got.Load() != 20 {
			t.Fatalf("round %d: %d of 20 delivered", round, got.Load())
		}
		if joined != nil {
			within(t, 10*time.Second, "Close of a handle that joined during Loop.Close", func() { joined.Close() })
			if joinedClosed.Load() != 1 {
				t.Fatalf("round %d: the late handle's OnClose ran %d times", round, joinedClosed.Load())
			}
		}
		keep.Close()
	}
}

func spin(n int) {
	for range n {
		runtime.Gosched()
	}
}

// Loop.Close from a handler delivers everything, unreferenced handles
// included, whether Run runs or a Close serves the Loop. (Before: Run
// returned with an unreferenced backlog undelivered; a Close inside a
// Close's serving left the other handles undelivered for good.)
func TestLoopCloseFromHandler(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	var gotB atomic.Int64
	b, _ := NewQueue(func(int) { gotB.Add(1) }, QueueConfig{Loop: l, Capacity: 4096})
	b.Unref()
	for k := range 2000 {
		b.Post(k)
	}
	a, _ := NewQueue(func(int) { l.Close() }, QueueConfig{Loop: l})
	a.Post(0)
	within(t, 10*time.Second, "Run after a handler's Loop.Close", func() { l.Run(context.Background()) })
	if gotB.Load() != 2000 {
		t.Errorf("Run returned with %d of 2000 of an unreferenced handle delivered", gotB.Load())
	}

	l2, _ := NewLoop(LoopConfig{})
	var gotC atomic.Int64
	var cClosed atomic.Bool
	c, _ := NewQueue(func(int) { gotC.Add(1) }, QueueConfig{Loop: l2, OnClose: func() { cClosed.Store(true) }})
	for k := range 10 {
		c.Post(k)
	}
	d, _ := NewQueue(func(int) {}, QueueConfig{Loop: l2, OnClose: func() { l2.Close() }})
	d.Post(0)
	within(t, 10*time.Second, "a Close serving a Loop that its OnClose closes", func() { d.Close() })
	if gotC.Load() != 10 || !cClosed.Load() {
		t.Errorf("after the Close: %d of 10 delivered, OnClose %v", gotC.Load(), cClosed.Load())
	}
	within(t, 10*time.Second, "Loop.Close after", func() { l2.Close() })
}

// Close from a handler returns at once, whatever handle it closes: it
// never serves a Loop inline from inside a handler, and so never nests a
// handler of one handle inside another's, nor waits for a consumer that
// may be waiting for it. (Before: the inline serving hid the outer
// handle's mark, and a call back into it hung; two handlers on two Loops
// closing each other's handles hung for ever.)
func TestCloseFromHandlerReturns(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	var f *Func[int, int]
	res := make(chan error, 1)
	x, _ := NewQueue(func(int) {
		_, err := f.Call(context.Background(), 1)
		res <- err
	}, QueueConfig{Loop: l})
	f, _ = NewFunc(func(a int) int {
		if a == 0 {
			x.Post(0)
			x.Close() // returns at once: the Loop is not running, and this is a handler
		}
		return a
	}, FuncConfig{})
	within(t, 10*time.Second, "a Func whose function closes a Loop handle", func() {
		if r, err := f.Call(context.Background(), 0); r != 0 || err != nil {
			t.Errorf("outer call: %d %v", r, err)
		}
	})
	within(t, 10*time.Second, "Loop.Close delivers x's message", func() { l.Close() })
	if err := <-res; err != nil {
		t.Errorf("x's handler, served by Loop.Close, calling the Func: %v", err)
	}
	f.Close()

	la, _ := NewLoop(LoopConfig{})
	lb, _ := NewLoop(LoopConfig{})
	var qa2, qb2 *Queue[int]
	start := make(chan struct{})
	qa, _ := NewQueue(func(int) { <-start; qb2.Close() }, QueueConfig{Loop: la})
	qb, _ := NewQueue(func(int) { <-start; qa2.Close() }, QueueConfig{Loop: lb})
	qa2, _ = NewQueue(func(int) {}, QueueConfig{Loop: la})
	qb2, _ = NewQueue(func(int) {}, QueueConfig{Loop: lb})
	go la.Run(context.Background())
	go lb.Run(context.Background())
	qa.Post(1)
	qb.Post(1)
	time.Sleep(10 * time.Millisecond)
	close(start)
	within(t, 10*time.Second, "handlers of two Loops closing each other's handles", func() { qa.Close(); qb.Close() })
	within(t, 10*time.Second, "both Loops' Close", func() { la.Close(); lb.Close() })
}

// A nested call from a Func's worker is served by another worker, also
// when the worker serves it from deeper in its stack of marks.
func TestNestedCallWorkersAllowed(t *testing.T) {
	g, _ := NewFunc(func(x int) int { return x * 2 }, FuncConfig{Workers: 3})
	var f *Func[int, int]
	f, _ = NewFunc(func(x int) int {
		if x == 1 {
			r, err := f.Call(context.Background(), 2) // a nested call: two workers are idle
			if err != nil {
				return -1
			}
			r2, _ := g.Call(context.Background(), r)
			return r2
		}
		return x
	}, FuncConfig{Workers: 3})
	within(t, 10*time.Second, "nested calls with idle workers", func() {
		if r, err := f.Call(context.Background(), 1); r != 4 || err != nil {
			t.Errorf("got %d %v, want 4", r, err)
		}
	})
	f.Close()
	g.Close()
}

// A handler, a Func's function or a notifier's function that calls
// runtime.Goexit (as t.FailNow does) is reported as a panic, and delivery
// goes on. (Before: the consumer goroutine was gone, the rest of its batch
// lost, and Close hung.)
func TestHandlerGoexit(t *testing.T) {
	var reports atomic.Int64
	onPanic := func(e *PanicError) {
		if e.Value == errGoexit {
			reports.Add(1)
		}
	}
	var got atomic.Int64
	q, _ := NewQueue(func(v int) {
		got.Add(1)
		if v%10 == 0 {
			runtime.Goexit()
		}
	}, QueueConfig{OnPanic: onPanic, Capacity: 128})
	for k := range 100 {
		q.Post(k)
	}
	within(t, 10*time.Second, "Close after Goexits", func() { q.Close() })
	if got.Load() != 100 || q.Stats().Panics != 10 {
		t.Errorf("queue: %d of 100 handled, %d panics counted (want 10)", got.Load(), q.Stats().Panics)
	}

	for _, workers := range []int{1, 3} {
		f, _ := NewFunc(func(x int) int {
			if x < 0 {
				runtime.Goexit()
			}
			return x
		}, FuncConfig{Workers: workers, OnPanic: onPanic})
		within(t, 10*time.Second, "calls after Goexits", func() {
			for k := range 20 {
				_, err := f.Call(context.Background(), -1)
				if !errors.Is(err, ErrPanic) {
					t.Errorf("workers %d: a call whose function called Goexit: %v, want ErrPanic", workers, err)
				}
				if r, err := f.Call(context.Background(), k); r != k || err != nil {
					t.Errorf("workers %d: the next call: %d %v", workers, r, err)
				}
			}
		})
		within(t, 10*time.Second, "Func.Close", func() { f.Close() })
	}

	l, _ := NewLoop(LoopConfig{})
	var onLoop atomic.Int64
	lq, _ := NewQueue(func(v int) {
		onLoop.Add(1)
		if v == 3 {
			runtime.Goexit() // ends Run's goroutine
		}
	}, QueueConfig{Loop: l, OnPanic: onPanic})
	for k := range 10 {
		lq.Post(k)
	}
	go l.Run(context.Background())
	waitFor(t, "the Goexit", func() bool { return onLoop.Load() >= 4 })
	within(t, 10*time.Second, "Close of a Loop handle after Run's goroutine ended", func() { lq.Close() })
	if onLoop.Load() != 10 {
		t.Errorf("loop: %d of 10 handled", onLoop.Load())
	}
	l.Close()
	if want := int64(10 + 20 + 20 + 1); reports.Load() != want {
		t.Errorf("%d Goexits reported, want %d", reports.Load(), want)
	}
}

// OnClose of a pull queue may call Recv. (Before: it ran under the
// readers' lock and deadlocked.)
func TestPullOnCloseRecv(t *testing.T) {
	var q *PullQueue[int]
	var err error
	q, _ = NewPullQueue[int](PullConfig{OnClose: func() { _, err = q.Recv(context.Background()) }})
	q.Post(1)
	q.Close()
	within(t, 5*time.Second, "Recv with OnClose calling Recv", func() {
		q.Recv(context.Background())
		q.Recv(context.Background())
	})
	if err != ErrClosed {
		t.Errorf("Recv from OnClose: %v", err)
	}
}

// A signal pending while blocked is still delivered when the interrupt
// closes: it was accepted. (Before: Close dropped it.)
func TestInterruptBlockedSignalDeliveredAtClose(t *testing.T) {
	var got atomic.Int64
	i, _ := NewInterrupt(func(v int) { got.Store(int64(v)) }, InterruptConfig{})
	i.Block()
	if err := i.Signal(7); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "Close", func() { i.Close() })
	if got.Load() != 7 {
		t.Errorf("the blocked signal was not delivered at Close (got %d)", got.Load())
	}
}

// A call abandoned on its timeout stays abandoned when the slot's 24-bit
// state generation wraps: its late result is never taken for the result of
// the call 2^24 calls later. (Before: that call returned the old result.)
func TestCallSlotGenerationWrap(t *testing.T) {
	gate := make(chan struct{})
	f, _ := NewFunc(func(m cthreads.Msg) uint64 {
		if m.Seq == 1 {
			<-gate
		}
		return 1000 + m.Seq
	}, FuncConfig{})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	arg := cthreads.Msg{Seq: 1}
	var ret uint64
	if rc := cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, time.Millisecond); rc != fq.CodeTimedOut {
		t.Fatalf("first call: %d, want a timeout", rc)
	}
	fq.SkipCallGens(1<<24 - 1) // as 2^24-1 calls on this thread would
	arg.Seq = 2
	done := make(chan int, 1)
	go func() { time.Sleep(20 * time.Millisecond); close(gate) }() // the abandoned call completes now
	rc := cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&arg), unsafe.Sizeof(arg), unsafe.Pointer(&ret), 8, 10*time.Second)
	done <- rc
	if rc != 0 || ret != 1002 {
		t.Errorf("the call after the wrap: code %d, result %d; want 1002, not the abandoned call's 1001", rc, ret)
	}
	f.Close()
	if st := f.Stats(); st.LateResults != 1 {
		t.Errorf("LateResults %d, want 1", st.LateResults)
	}
}

// runtime.Goexit in OnClose: on a Loop handle the Loop goes on (before: the
// id was put back and the freed handle served and torn down twice, and
// the process died); on a pull queue the reader's lock is not unlocked
// twice (before: a fatal error).
func TestOnCloseGoexit(t *testing.T) {
	var closes atomic.Int64
	goexit := func() { closes.Add(1); runtime.Goexit() }
	quiet := func(*PanicError) {}
	l, _ := NewLoop(LoopConfig{})
	q, _ := NewQueue(func(int) {}, QueueConfig{Loop: l, OnClose: goexit, OnPanic: quiet})
	n, _ := NewNotifier(func() {}, NotifierConfig{Loop: l, Repeat: true, OnClose: goexit, OnPanic: quiet})
	q.Post(1)
	go l.Run(context.Background())
	within(t, 10*time.Second, "Close with a Goexit in OnClose", func() { q.Close() })
	within(t, 10*time.Second, "Loop.Close after", func() { l.Close() })
	within(t, 10*time.Second, "the notifier's Close", func() { n.Close() })
	if closes.Load() != 2 {
		t.Errorf("OnClose ran %d times, want 2", closes.Load())
	}

	p, _ := NewPullQueue[int](PullConfig{OnClose: goexit})
	p.Post(1)
	p.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := p.Recv(context.Background()); err != nil {
				return
			}
		}
	}()
	within(t, 10*time.Second, "the reader whose Recv ran OnClose", func() { <-done })
	if _, err := p.Recv(context.Background()); err != ErrClosed {
		t.Errorf("Recv after: %v", err)
	}
	if closes.Load() != 3 {
		t.Errorf("OnClose ran %d times, want 3", closes.Load())
	}
}

// After a Goexit in a Loop handle's OnClose, the Loop still has room for
// every handle it admits: the finished handle's id is not put back on the
// ready queue. (Before: with MaxHandles+1 a power of two the ready queue
// was full, a schedule was dropped and Loop.Close hung.)
func TestLoopGoexitInOnCloseKeepsRoom(t *testing.T) {
	for _, m := range []int{1, 3, 7} {
		l, _ := NewLoop(LoopConfig{MaxHandles: m})
		a, _ := NewQueue(func(int) {}, QueueConfig{Loop: l, OnClose: runtime.Goexit, OnPanic: func(*PanicError) {}})
		done := make(chan struct{})
		go func() { defer close(done); l.Run(context.Background()) }()
		waitFor(t, "Run started", l.isRunning)
		a.Close()
		<-done // Run's goroutine ended with the Goexit
		var got atomic.Int32
		var qs []*Queue[int]
		for range m {
			q, err := NewQueue(func(int) { got.Add(1) }, QueueConfig{Loop: l})
			if err != nil {
				t.Fatal(err)
			}
			qs = append(qs, q)
		}
		for _, q := range qs {
			q.Post(1)
		}
		within(t, 10*time.Second, "Loop.Close", func() { l.Close() })
		if got.Load() != int32(m) {
			t.Errorf("MaxHandles %d: %d of %d delivered", m, got.Load(), m)
		}
	}
}

// A handle joining a running Loop that C threads post into: no data race
// in the library under -race. (Before: attach read the consumer's own
// position from the joining goroutine.)
func TestLoopJoinWhileCPosts(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	keep, _ := NewNotifier(func() {}, NotifierConfig{Loop: l, Repeat: true})
	go l.Run(context.Background())
	for range 20 {
		chk := newSeqChecker()
		q, _ := NewQueue(chk.see, QueueConfig{Loop: l, Capacity: 256})
		p := cthreads.Start(uintptr(q.Token()), 2, 0, 0, true)
		time.Sleep(time.Millisecond)
		q.Close()
		accepted, _, err := p.Wait()
		if err != nil {
			t.Fatal(err)
		}
		chk.check(t, 0, accepted)
	}
	keep.Close()
	l.Close()
}
