package foreign

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func TestNotifierSingleShot(t *testing.T) {
	var runs atomic.Int64
	var finals atomic.Int64
	n, err := NewNotifier(func() { runs.Add(1) }, NotifierConfig{OnClose: func() { finals.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if n.Closed() {
		t.Fatal("closed before its run")
	}
	// Triggers from 4 C threads at once: one run, the rest merge or are
	// refused once it has run.
	res := cthreads.TriggerThreads(uintptr(n.Token()), 4, 1000, false)
	if res.Other != 0 || res.OK == 0 {
		t.Fatalf("triggers: %+v", res)
	}
	waitFor(t, "the run", func() bool { return runs.Load() == 1 && n.Closed() })
	if err := n.Trigger(); !errors.Is(err, ErrClosed) {
		t.Errorf("trigger after the run: %v", err)
	}
	var m int
	if rc := cthreads.Post(uintptr(n.Token()), unsafe.Pointer(&m), 0); rc != fq.CodeClosed {
		t.Errorf("C trigger after the run: %d", rc)
	}
	n.Close()
	if runs.Load() != 1 || finals.Load() != 1 {
		t.Errorf("runs %d finalizers %d", runs.Load(), finals.Load())
	}
	// Refused triggers stay counted after the notifier is freed: the C
	// threads' refusals and the two above.
	if st := n.Stats(); st.Delivered != 1 || st.RejectedClosed < res.Closed+2 {
		t.Errorf("stats %+v, C threads were refused %d times", st, res.Closed)
	}
}

func TestNotifierRepeating(t *testing.T) {
	var runs atomic.Int64
	gate := make(chan struct{})
	n, err := NewNotifier(func() {
		if runs.Add(1) == 1 {
			<-gate
		}
	}, NotifierConfig{Repeat: true})
	if err != nil {
		t.Fatal(err)
	}
	n.Trigger()
	waitFor(t, "first run", func() bool { return runs.Load() == 1 })
	// While the first run is held, 1000 triggers merge into one more run.
	for range 1000 {
		if err := n.Trigger(); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	waitFor(t, "second run", func() bool { return runs.Load() == 2 })
	// Triggers from a signal handler.
	res, _, err := cthreads.TriggerStorm(uintptr(n.Token()), false, 50*time.Microsecond, 100*time.Millisecond)
	if err != nil || res.OK == 0 || res.Other != 0 {
		t.Fatalf("storm: %+v %v", res, err)
	}
	waitFor(t, "storm runs", func() bool { return !n.h.Pending() })
	before := runs.Load()
	n.Close()
	if runs.Load() < 3 || runs.Load() > before+1 {
		t.Errorf("runs %d (before close %d)", runs.Load(), before)
	}
	if n.Trigger() == nil || !n.Closed() {
		t.Error("trigger after Close accepted")
	}
}

func TestNotifierPanic(t *testing.T) {
	var reports atomic.Int64
	n, err := NewNotifier(func() { panic("x") }, NotifierConfig{Repeat: true, OnPanic: func(*PanicError) { reports.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	n.Trigger()
	waitFor(t, "panic", func() bool { return reports.Load() == 1 })
	n.Trigger()
	waitFor(t, "second panic", func() bool { return reports.Load() == 2 })
	n.Close()
	if n.Stats().Panics != 2 {
		t.Errorf("stats %+v", n.Stats())
	}
}

// Latest value wins; only the transition wakes Go; Pending under a storm
// from C threads and from a signal handler.
func TestInterruptValues(t *testing.T) {
	gate := make(chan struct{})
	var got []int
	var mu sync.Mutex
	i, err := NewInterrupt(func(v int) {
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
		if v == 1 {
			<-gate
		}
	}, InterruptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tok := uintptr(i.Token())
	cthreads.Signal(tok, 1)
	waitFor(t, "first delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	// The handler is held: these overwrite each other.
	for v := 2; v <= 100; v++ {
		if rc := cthreads.Signal(tok, v); rc != 0 {
			t.Fatal(rc)
		}
	}
	if !i.Pending() {
		t.Fatal("not pending while the handler is held")
	}
	close(gate)
	waitFor(t, "second delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	if got[1] != 100 {
		t.Errorf("latest value should win: got %v", got)
	}
	mu.Unlock()

	res := cthreads.TriggerThreads(tok, 4, 20000, true)
	if res.OK != 80000 || res.Other != 0 {
		t.Fatalf("threads: %+v", res)
	}
	sres, last, err := cthreads.TriggerStorm(tok, true, 20*time.Microsecond, 200*time.Millisecond)
	if err != nil || sres.OK == 0 || sres.Other != 0 {
		t.Fatalf("storm: %+v %v", sres, err)
	}
	waitFor(t, "storm delivered", func() bool { return !i.Pending() })
	i.Close()
	mu.Lock()
	defer mu.Unlock()
	if got[len(got)-1] != int(last) {
		t.Errorf("last delivered %d, last signalled %d", got[len(got)-1], last)
	}
	if st := i.Stats(); st.Wakeups > st.Delivered+1 {
		t.Errorf("more wake-ups than transitions: %+v", st)
	}
	t.Logf("deliveries %d for %d signals", len(got), 2+99+res.OK+sres.OK)
}

// A long Go computation polls Pending, or is cancelled through Context,
// from a C thread.
func TestInterruptStopsAComputation(t *testing.T) {
	i, err := NewInterrupt(nil, InterruptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	go func() {
		time.Sleep(5 * time.Millisecond)
		cthreads.Signal(uintptr(i.Token()), 42)
	}()
	spins := 0
	within(t, 10*time.Second, "Pending loop", func() {
		for !i.Pending() {
			spins++
		}
	})
	ctx := i.Context()
	within(t, 10*time.Second, "Context", func() { <-ctx.Done() })
	var ie *Interrupted
	if !errors.As(context.Cause(ctx), &ie) || ie.Value != 42 {
		t.Errorf("cause %v", context.Cause(ctx))
	}
	if v, ok := i.Take(); !ok || v != 42 || i.Pending() {
		t.Errorf("Take: %v %v", v, ok)
	}
	if _, ok := i.Take(); ok {
		t.Error("second Take found a signal")
	}
}

func TestInterruptBlock(t *testing.T) {
	var got atomic.Int64
	i, err := NewInterrupt(func(v int) { got.Store(int64(v)) }, InterruptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	i.Block()
	i.Block()
	i.Signal(7)
	time.Sleep(20 * time.Millisecond)
	if got.Load() != 0 || !i.Pending() {
		t.Fatalf("delivered while blocked: %d", got.Load())
	}
	i.Unblock()
	time.Sleep(20 * time.Millisecond)
	if got.Load() != 0 {
		t.Fatal("delivered after the inner Unblock")
	}
	i.Unblock()
	waitFor(t, "delivery after Unblock", func() bool { return got.Load() == 7 })
	defer func() {
		if recover() == nil {
			t.Error("unbalanced Unblock did not panic")
		}
	}()
	i.Unblock()
}

// The fd is readable while a signal is pending, as epoll sees it.
func TestInterruptFd(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		var i *Interrupt
		var err error
		withHooks(hooks{pipe: pipe}, func() { i, err = NewInterrupt(nil, InterruptConfig{}) })
		if err != nil {
			t.Fatal(err)
		}
		ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i.Fd())}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, i.Fd(), &ev); err != nil {
			t.Fatal(err)
		}
		ready := func() bool {
			evs := make([]syscall.EpollEvent, 1)
			n, _ := syscall.EpollWait(ep, evs, 0)
			return n == 1
		}
		if ready() {
			t.Fatal("readable before any signal")
		}
		cthreads.Signal(uintptr(i.Token()), 1)
		cthreads.Signal(uintptr(i.Token()), 2)
		if !ready() {
			t.Fatal("not readable while pending")
		}
		if v, ok := i.Take(); !ok || v != 2 {
			t.Fatalf("Take %v %v", v, ok)
		}
		if ready() {
			t.Fatal("readable after Take")
		}
		cthreads.Signal(uintptr(i.Token()), 3)
		if !ready() {
			t.Fatal("not readable after a second signal")
		}
		syscall.Close(ep)
		i.Close()
	}
}

// Handles on a Loop run on the Loop's goroutine — here locked to its OS
// thread — one at a time, in order per producer.
func TestLoopOnLockedThread(t *testing.T) {
	l, err := NewLoop(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var running, overlaps atomic.Int64
	var wrongThread atomic.Int64
	var tid atomic.Int64
	enter := func() func() {
		if running.Add(1) != 1 {
			overlaps.Add(1)
		}
		if int64(syscall.Gettid()) != tid.Load() {
			wrongThread.Add(1)
		}
		return func() { running.Add(-1) }
	}
	chk := newSeqChecker()
	q, err := NewQueue(func(m cthreads.Msg) { defer enter()(); chk.see(m) }, QueueConfig{Loop: l, Capacity: 256})
	if err != nil {
		t.Fatal(err)
	}
	var notes atomic.Int64
	n, _ := NewNotifier(func() { defer enter()(); notes.Add(1) }, NotifierConfig{Loop: l, Repeat: true})
	var sigs atomic.Int64
	i, _ := NewInterrupt(func(int) { defer enter()(); sigs.Add(1) }, InterruptConfig{Loop: l})
	f, _ := NewFunc(func(m cthreads.Msg) uint64 { defer enter()(); return triple(m) }, FuncConfig{Loop: l})

	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid.Store(int64(syscall.Gettid()))
		done <- l.Run(context.Background())
	}()
	p := cthreads.Start(uintptr(q.Token()), 4, 0, 50_000, false)
	var gp sync.WaitGroup
	gp.Go(func() { // and a goroutine, through Post
		for seq := uint64(0); seq < 50_000; {
			if q.Post(cthreads.Msg{Producer: 4, Seq: seq}) == nil {
				seq++
			}
		}
	})
	callers := cthreads.StartCallers(uintptr(f.Token()), 2, 0, 500, -1, false)
	trig := cthreads.TriggerThreads(uintptr(n.Token()), 2, 1000, false)
	sres := cthreads.TriggerThreads(uintptr(i.Token()), 2, 1000, true)
	acc, _, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	gp.Wait()
	acc = append(acc, 50_000)
	cres := callers.Wait()
	waitFor(t, "deliveries", func() bool {
		chk.mu.Lock()
		defer chk.mu.Unlock()
		return chk.n == 250_000 && !n.h.Pending() && !i.Pending()
	})
	for _, h := range []interface{ Close() error }{q, n, i, f} {
		h.Close()
	}
	within(t, 10*time.Second, "Run returns when the last handle closes", func() {
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	chk.check(t, 0, acc)
	if cres.OK != 1000 || trig.Other+sres.Other != 0 {
		t.Errorf("calls %+v triggers %+v %+v", cres, trig, sres)
	}
	if overlaps.Load() != 0 || wrongThread.Load() != 0 {
		t.Errorf("overlapping handler runs %d, runs off the locked thread %d", overlaps.Load(), wrongThread.Load())
	}
	if notes.Load() == 0 || sigs.Load() == 0 {
		t.Errorf("notifier runs %d, interrupt deliveries %d", notes.Load(), sigs.Load())
	}
}

// 1,000 queues on one Loop, posted to by C threads: every message arrives
// and no two handlers ever run at once.
func TestLoopThousandHandles(t *testing.T) {
	l, err := NewLoop(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var running, overlaps, total atomic.Int64
	qs := make([]*Queue[cthreads.Msg], 1000)
	chks := make([]*seqChecker, len(qs))
	for k := range qs {
		chk := newSeqChecker()
		chks[k] = chk
		qs[k], err = NewQueue(func(m cthreads.Msg) {
			if running.Add(1) != 1 {
				overlaps.Add(1)
			}
			chk.see(m)
			total.Add(1)
			running.Add(-1)
		}, QueueConfig{Loop: l, Capacity: 64})
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() { done <- l.Run(context.Background()) }()
	var ps []*cthreads.Producers
	for k := range qs {
		ps = append(ps, cthreads.Start(uintptr(qs[k].Token()), 1, uint32(k), 100, false))
		if len(ps) == 50 { // at most 50 threads at a time
			for _, p := range ps {
				if _, _, err := p.Wait(); err != nil {
					t.Fatal(err)
				}
			}
			ps = nil
		}
	}
	waitFor(t, "all delivered", func() bool { return total.Load() == 100_000 })
	for k, q := range qs {
		q.Close()
		chks[k].check(t, uint32(k), []uint64{100})
	}
	within(t, 10*time.Second, "Run returns", func() { <-done })
	if overlaps.Load() != 0 {
		t.Errorf("%d overlapping handler runs", overlaps.Load())
	}
}

// An unreferenced handle does not keep Run alive; ctx ends Run too.
func TestLoopRefs(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	defer l.Close()
	if err := l.Run(context.Background()); err != nil {
		t.Fatalf("Run with no handles: %v", err)
	}
	q, _ := NewQueue(func(int) {}, QueueConfig{Loop: l})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with a referenced handle: %v", err)
	}
	q.Unref()
	within(t, 5*time.Second, "Run with only an unreferenced handle", func() {
		if err := l.Run(context.Background()); err != nil {
			t.Error(err)
		}
	})
	q.Ref()
	go func() { time.Sleep(10 * time.Millisecond); q.Close() }()
	within(t, 5*time.Second, "Run until the handle closes", func() {
		if err := l.Run(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// C users hold references; the Go side releases its own; the last C
// release closes the queue, everything accepted is delivered, and the
// finalizer runs exactly once.
func TestAcquireReleaseRacingPosts(t *testing.T) {
	for round := range 30 {
		chk := newSeqChecker()
		var finals atomic.Int64
		finalized := make(chan struct{})
		q, err := NewQueue(chk.see, QueueConfig{Capacity: 32, OnClose: func() {
			finals.Add(1)
			close(finalized)
		}})
		if err != nil {
			t.Fatal(err)
		}
		tok := uintptr(q.Token())
		// A C user holds a reference across the race, so the Go side's
		// release cannot be the last one.
		if rc := cthreads.Acquire(tok); rc != 0 {
			t.Fatal(rc)
		}
		if err := q.Release(); err != nil {
			t.Fatal(err)
		}
		acc, codes := cthreads.RefsRace(tok, 4, 0, 2000)
		for _, c := range codes {
			if c != 0 {
				t.Fatalf("round %d: codes %v", round, codes)
			}
		}
		if rc := cthreads.Release(tok); rc != 0 {
			t.Fatal(rc)
		}
		within(t, 10*time.Second, "finalizer", func() { <-finalized })
		chk.check(t, 0, acc)
		var m cthreads.Msg
		if rc := cthreads.Post(tok, unsafe.Pointer(&m), unsafe.Sizeof(m)); rc != fq.CodeClosed {
			t.Fatalf("post after the last release: %d", rc)
		}
		if rc := cthreads.Acquire(tok); rc != fq.CodeClosed {
			t.Fatalf("acquire after the last release: %d", rc)
		}
		q.Close()
		if finals.Load() != 1 {
			t.Fatalf("finalizer ran %d times", finals.Load())
		}
	}
}
