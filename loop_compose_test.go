package foreign

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// MaxHandles is enforced at construction, for every kind.
func TestLoopMaxHandles(t *testing.T) {
	l, err := NewLoop(LoopConfig{MaxHandles: 3})
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(func(int) {}, QueueConfig{Loop: l})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFunc(func(int) int { return 0 }, FuncConfig{Loop: l})
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNotifier(func() {}, NotifierConfig{Loop: l, Repeat: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewInterrupt(nil, InterruptConfig{Loop: l}); !errors.Is(err, ErrFull) {
		t.Errorf("a 4th handle on a Loop of 3: %v, want ErrFull", err)
	}
	q.Close() // the Loop is not running: Close serves it
	i, err := NewInterrupt(nil, InterruptConfig{Loop: l})
	if err != nil {
		t.Fatalf("after a Close there is room again: %v", err)
	}
	l.Close()
	for _, h := range []interface{ Close() error }{f, n, i} {
		h.Close()
	}
}

// The ready queue never overflows: wake-ups of Run do not pile up, and
// every accepted message is delivered. (Before: 300 accepted, 128
// delivered, and Run never returned.)
func TestLoopNoDroppedSchedule(t *testing.T) {
	l, err := NewLoop(LoopConfig{MaxHandles: 4})
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	var qs []*Queue[int]
	for range 2 {
		q, err := NewQueue(func(int) { got.Add(1) }, QueueConfig{Loop: l, Capacity: 512})
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	qs[1].Unref()
	for range 1000 { // each Unref of the last referenced handle asks Run to look again
		qs[0].Unref()
		qs[0].Ref()
	}
	accepted := 0
	for k := range 300 {
		if qs[k%2].Post(k) == nil {
			accepted++
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	waitFor(t, "deliveries", func() bool { return got.Load() == int64(accepted) })
	for _, q := range qs {
		q.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return once its handles were closed")
	}
	l.Close()
}

// Close on a Loop handle returns after the Loop delivered what the handle
// accepted, whether Run is running or not; then OnClose has run.
func TestLoopHandleCloseWaits(t *testing.T) {
	for _, running := range []bool{true, false} {
		l, _ := NewLoop(LoopConfig{})
		var handled, closed atomic.Int64
		q, err := NewQueue(func(int) {
			time.Sleep(100 * time.Microsecond)
			handled.Add(1)
		}, QueueConfig{Loop: l, OnClose: func() { closed.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		f, _ := NewFunc(func(int) int { return 1 }, FuncConfig{Loop: l})
		for k := range 100 {
			q.Post(k)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		if running {
			go func() { l.Run(ctx); close(done) }()
			waitFor(t, "Run started", l.isRunning)
		} else {
			close(done)
		}
		within(t, 10*time.Second, "Close on a Loop", func() { q.Close() })
		if handled.Load() != 100 || closed.Load() != 1 {
			t.Errorf("running=%v: Close returned after %d of 100 deliveries, OnClose %d", running, handled.Load(), closed.Load())
		}
		if err := q.Post(1); err != ErrClosed {
			t.Errorf("Post after Close: %v", err)
		}
		within(t, 10*time.Second, "Func.Close on a Loop", func() { f.Close() })
		cancel()
		<-done
		l.Close()
	}
}

// Loop.Close closes every handle on it: posts after it are refused, what
// was accepted is delivered, and Run returns. (Before: later posts were
// accepted and never delivered.)
func TestLoopCloseClosesHandles(t *testing.T) {
	for _, running := range []bool{true, false} {
		l, _ := NewLoop(LoopConfig{})
		var handled, closes atomic.Int64
		onClose := func() { closes.Add(1) }
		q, _ := NewQueue(func(int) { handled.Add(1) }, QueueConfig{Loop: l, OnClose: onClose})
		f, _ := NewFunc(func(int) int { return 1 }, FuncConfig{Loop: l, OnClose: onClose})
		n, _ := NewNotifier(func() { handled.Add(1) }, NotifierConfig{Loop: l, Repeat: true, OnClose: onClose})
		i, _ := NewInterrupt(func(int) { handled.Add(1) }, InterruptConfig{Loop: l, OnClose: onClose})
		for k := range 50 {
			q.Post(k)
		}
		n.Trigger()
		i.Signal(1)
		runErr := make(chan error, 1)
		if running {
			go func() { runErr <- l.Run(context.Background()) }()
			waitFor(t, "Run started", l.isRunning)
		}
		within(t, 10*time.Second, "Loop.Close", func() { l.Close() })
		if handled.Load() != 52 || closes.Load() != 4 {
			t.Errorf("running=%v: %d of 52 delivered, %d of 4 OnClose", running, handled.Load(), closes.Load())
		}
		if q.Post(1) != ErrClosed || n.Trigger() != ErrClosed || i.Signal(2) != ErrClosed {
			t.Error("a handle of a closed Loop accepted work")
		}
		if _, err := f.Call(context.Background(), 1); err != ErrClosed {
			t.Errorf("Call after Loop.Close: %v", err)
		}
		if running {
			select {
			case err := <-runErr:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after Loop.Close")
			}
		}
		if _, err := NewQueue(func(int) {}, QueueConfig{Loop: l}); !errors.Is(err, ErrClosed) {
			t.Errorf("a new handle on a closed Loop: %v", err)
		}
		if err := l.Run(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
		for _, h := range []interface{ Close() error }{q, f, n, i} {
			h.Close()
		}
	}
}

// A Func with workers cannot be put on a Loop: the combination is refused
// when it is made. (Before: its Close made the Loop panic.)
func TestFuncWorkersOnLoopRefused(t *testing.T) {
	l, _ := NewLoop(LoopConfig{})
	defer l.Close()
	if _, err := NewFunc(func(int) int { return 0 }, FuncConfig{Loop: l, Workers: 2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Workers on a Loop: %v, want ErrInvalid", err)
	}
	if _, err := NewFunc(func(int) int { return 0 }, FuncConfig{Workers: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Workers -1: %v", err)
	}
}

// Close called from inside a function with workers returns, and so does
// the Close that follows; closed through Release, the workers end too.
// (Before: Close from the function never returned; Release leaked the
// workers.)
func TestFuncWorkersLifecycle(t *testing.T) {
	var f *Func[int, int]
	closedInside := make(chan struct{})
	f, err := NewFunc(func(x int) int {
		if x == 1 {
			f.Close()
			close(closedInside)
		}
		return x
	}, FuncConfig{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "Call that closes its own Func", func() {
		if r, err := f.Call(context.Background(), 1); r != 1 || err != nil {
			t.Errorf("call: %d %v", r, err)
		}
		<-closedInside
	})
	within(t, 10*time.Second, "Close after", func() { f.Close() })

	fin := make(chan struct{})
	g, _ := NewFunc(func(x int) int { return x }, FuncConfig{Workers: 3, OnClose: func() { close(fin) }})
	g.Call(context.Background(), 2)
	g.Release()
	within(t, 10*time.Second, "workers end after Release", func() { <-fin })
	if leaked := libraryGoroutines(5 * time.Second); leaked != "" {
		t.Errorf("goroutines left after Release:\n%s", leaked)
	}
}

// A nested call from the function fails with ErrDeadlock when no worker is
// left to serve it; while one is, it is served. (Before: a deadlock.)
func TestFuncNestedCallDeadlock(t *testing.T) {
	ctx := context.Background()
	var f1 *Func[int, int]
	f1, _ = NewFunc(func(x int) int {
		if x == 0 {
			_, err := f1.Call(ctx, 1)
			if errors.Is(err, ErrDeadlock) {
				return -1
			}
		}
		return x
	}, FuncConfig{})
	within(t, 5*time.Second, "nested call, one worker", func() {
		if r, _ := f1.Call(ctx, 0); r != -1 {
			t.Errorf("nested call with one worker: %d, want the ErrDeadlock mark", r)
		}
	})
	f1.Close()

	const workers = 3
	var gate sync.WaitGroup
	gate.Add(workers)
	var f *Func[int, int]
	var deadlocks atomic.Int64
	f, _ = NewFunc(func(x int) int {
		if x < workers {
			gate.Done()
			gate.Wait() // every worker is busy from here on
			if _, err := f.Call(ctx, 100+x); errors.Is(err, ErrDeadlock) {
				deadlocks.Add(1)
				return -1
			}
		}
		return x
	}, FuncConfig{Workers: workers})
	res := make(chan int, workers)
	within(t, 10*time.Second, "nested calls with every worker busy", func() {
		for k := range workers {
			go func() { r, _ := f.Call(ctx, k); res <- r }()
		}
		for range workers {
			<-res
		}
	})
	if deadlocks.Load() != 1 {
		t.Errorf("%d nested calls refused, want exactly 1 (the one that would have left no worker)", deadlocks.Load())
	}
	f.Close()
}

func (l *Loop) isRunning() bool {
	l.runMu.Lock()
	defer l.runMu.Unlock()
	return l.running != nil
}
