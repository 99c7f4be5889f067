package foreign

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

func TestPlainTypeCheck(t *testing.T) {
	type inner struct {
		A [4]int16
		B float64
	}
	ok := []func() error{
		func() error { _, err := NewPullQueue[int64](PullConfig{}); return closeQ(err) },
		func() error { _, err := NewPullQueue[[3]byte](PullConfig{}); return err },
		func() error { _, err := NewPullQueue[struct{ X inner }](PullConfig{}); return err },
		func() error { _, err := NewPullQueue[complex128](PullConfig{}); return err },
		func() error { _, err := NewPullQueue[struct{}](PullConfig{}); return closeQ(err) }, // counted empty messages
	}
	for i, f := range ok {
		if err := f(); err != nil {
			t.Errorf("plain type %d refused: %v", i, err)
		}
	}
	bad := map[string]func() error{
		"pointer":   func() error { _, err := NewPullQueue[*int](PullConfig{}); return err },
		"string":    func() error { _, err := NewPullQueue[struct{ S string }](PullConfig{}); return err },
		"slice":     func() error { _, err := NewPullQueue[[]byte](PullConfig{}); return err },
		"map":       func() error { _, err := NewPullQueue[map[int]int](PullConfig{}); return err },
		"interface": func() error { _, err := NewPullQueue[struct{ E error }](PullConfig{}); return err },
		"chan":      func() error { _, err := NewPullQueue[[2]chan int](PullConfig{}); return err },
		"func":      func() error { _, err := NewPullQueue[func()](PullConfig{}); return err },
		"unsafe":    func() error { _, err := NewPullQueue[unsafe.Pointer](PullConfig{}); return err },
		"too big":   func() error { _, err := NewPullQueue[[1<<24 + 1]byte](PullConfig{}); return err },
		"capacity":  func() error { _, err := NewPullQueue[int](PullConfig{Capacity: -1}); return err },
	}
	for name, f := range bad {
		err := f()
		if err == nil || !strings.HasPrefix(err.Error(), "foreign: ") {
			t.Errorf("%s: got %v, want a foreign: error", name, err)
		}
	}
	_, err := NewPullQueue[struct {
		A int
		S string
	}](PullConfig{})
	if err == nil || !strings.Contains(err.Error(), ".S is a string") {
		t.Errorf("error should name the field: %v", err)
	}
}

func closeQ(err error) error { return err }

// Token 0, small and random integers, a stale token, a NULL message and a
// wrong length all get an error code from foreign_post, never a crash.
func TestBadInput(t *testing.T) {
	q, err := NewQueue(func(cthreads.Msg) {}, QueueConfig{Capacity: 16})
	if err != nil {
		t.Fatal(err)
	}
	var m cthreads.Msg
	mp, n := unsafe.Pointer(&m), unsafe.Sizeof(m)
	tok := uintptr(q.Token())
	if rc := cthreads.Post(tok, mp, n); rc != 0 {
		t.Fatalf("good post: %d", rc)
	}
	wantCode := func(what string, rc int, ok ...int) {
		t.Helper()
		for _, c := range ok {
			if rc == c {
				return
			}
		}
		t.Errorf("%s: got %d (%s), want one of %v", what, rc, cthreads.Strerror(rc), ok)
	}
	wantCode("token 0", cthreads.Post(0, mp, n), fq.CodeInval)
	for i := uintptr(1); i < 70000; i += 997 {
		wantCode("small token", cthreads.Post(i, mp, n), fq.CodeInval, fq.CodeClosed)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		r := uintptr(rng.Uint64())
		if r == tok {
			continue
		}
		wantCode("random token", cthreads.Post(r, mp, n), fq.CodeInval, fq.CodeClosed)
		// Random tokens near real ones: same index, other generations.
		near := r&^0xFFFF | tok&0xFFFF
		if near != tok {
			wantCode("forged generation", cthreads.Post(near, mp, n), fq.CodeInval, fq.CodeClosed)
		}
	}
	wantCode("NULL msg", cthreads.Post(tok, nil, n), fq.CodeInval)
	wantCode("short len", cthreads.Post(tok, mp, n-1), fq.CodeInval)
	wantCode("long len", cthreads.Post(tok, mp, n+1), fq.CodeInval)
	wantCode("zero len", cthreads.Post(tok, mp, 0), fq.CodeInval)
	q.Close()
	wantCode("closed", cthreads.Post(tok, mp, n), fq.CodeClosed)

	// The block is reused by new queues; the old token stays dead.
	for range 5 {
		q2, err := NewQueue(func(cthreads.Msg) {}, QueueConfig{Capacity: 16})
		if err != nil {
			t.Fatal(err)
		}
		wantCode("stale", cthreads.Post(tok, mp, n), fq.CodeClosed)
		if err := q.Post(m); !errors.Is(err, ErrClosed) {
			t.Errorf("Go Post on a closed queue whose block was reused: %v", err)
		}
		q2.Close()
	}
	if st := q.Stats(); st.Delivered != 1 {
		t.Errorf("stats: %+v", st)
	}
	for _, c := range []int{0, fq.CodeInval, fq.CodeClosed, fq.CodeFull, fq.CodeTimedOut, fq.CodeDeadlock, fq.CodePanic, -99} {
		if cthreads.Strerror(c) == "" {
			t.Errorf("strerror(%d) empty", c)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	for _, ce := range codeErrs {
		if FromCode(ce.code) != ce.err || Code(ce.err) != ce.code {
			t.Errorf("code %d <-> %v does not round-trip", ce.code, ce.err)
		}
		if Code(errors.Join(errors.New("x"), ce.err)) != ce.code {
			t.Errorf("Code does not unwrap %v", ce.err)
		}
	}
	if FromCode(0) != nil || Code(nil) != 0 {
		t.Error("success must map to nil and back")
	}
	if FromCode(-99) == nil || Code(errors.New("other")) != fq.CodeInval {
		t.Error("unknown codes and errors must not map to success")
	}
	if !errors.Is(ErrClosed, errors.ErrUnsupported) && !errors.Is(FromCode(fq.CodeClosed), ErrClosed) {
		t.Error("closed")
	}
}

// A panicking handler is recovered, counted and reported; delivery goes on.
func TestHandlerPanic(t *testing.T) {
	var reports []*PanicError
	var handled atomic.Int64
	q, err := NewQueue(func(v int) {
		handled.Add(1)
		if v%10 == 0 {
			panic(v)
		}
	}, QueueConfig{Name: "p", OnPanic: func(e *PanicError) { reports = append(reports, e) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		for q.Post(i) != nil {
			time.Sleep(time.Microsecond)
		}
	}
	q.Close()
	if handled.Load() != 1000 {
		t.Fatalf("handled %d of 1000", handled.Load())
	}
	st := q.Stats()
	if st.Panics != 100 || len(reports) != 100 || st.Delivered != 1000 {
		t.Fatalf("panics %d reports %d delivered %d", st.Panics, len(reports), st.Delivered)
	}
	e := reports[3]
	if e.Value != 30 || e.Name != "p" || !errors.Is(e, ErrPanic) || !bytes.Contains(e.Stack, []byte("TestHandlerPanic")) {
		t.Errorf("bad report: %v %q", e, e.Stack[:min(200, len(e.Stack))])
	}
}

// With no OnPanic hook, a panic is logged through slog.Default().
func TestHandlerPanicDefaultLog(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	q, err := NewBatchQueue(func([]int) { panic("boom") }, QueueConfig{Name: "logged"})
	if err != nil {
		t.Fatal(err)
	}
	q.Post(1)
	q.Close()
	if out := buf.String(); !strings.Contains(out, "boom") || !strings.Contains(out, "name=logged") {
		t.Errorf("log: %q", out)
	}
}

func TestBatchHandler(t *testing.T) {
	var got, batches int
	q, err := NewBatchQueue(func(vs []int) {
		batches++
		for _, v := range vs {
			if v != got {
				panic("order")
			}
			got++
		}
	}, QueueConfig{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if got != 4000 || q.Stats().Panics != 0 {
		t.Fatalf("got %d in %d batches", got, batches)
	}
}

func TestPullMode(t *testing.T) {
	q, err := NewPullQueue[int](PullConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 8 {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Post(8); err != ErrFull {
		t.Fatalf("ninth post into capacity 8: %v", err)
	}
	if v, err := q.Recv(ctx); v != 0 || err != nil {
		t.Fatalf("Recv: %v %v", v, err)
	}
	buf := make([]int, 16)
	if n, err := q.RecvBatch(ctx, buf); n != 7 || err != nil || buf[0] != 1 || buf[6] != 7 {
		t.Fatalf("RecvBatch: %d %v %v", n, err, buf[:n])
	}
	st := q.Stats()
	if st.Posted != 8 || st.Delivered != 8 || st.RejectedFull != 1 || st.HighWater != 8 || st.Depth != 0 {
		t.Errorf("stats %+v", st)
	}

	// An empty queue: Recv waits for ctx.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := q.Recv(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv on empty queue: %v", err)
	}
	// A parked Recv is woken by a post from C.
	go func() {
		time.Sleep(10 * time.Millisecond)
		m := 42
		cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&m), unsafe.Sizeof(m))
	}()
	within(t, 5*time.Second, "Recv woken by C", func() {
		if v, err := q.Recv(ctx); v != 42 || err != nil {
			t.Errorf("Recv after wake: %v %v", v, err)
		}
	})
	// Close: what was accepted is still returned, then ErrClosed.
	q.Post(1)
	q.Post(2)
	q.Close()
	q.Close()
	if err := q.Post(3); err != ErrClosed {
		t.Fatalf("post after close: %v", err)
	}
	for _, want := range []int{1, 2} {
		if v, err := q.Recv(ctx); v != want || err != nil {
			t.Fatalf("drain after close: %v %v", v, err)
		}
	}
	if _, err := q.Recv(ctx); err != ErrClosed {
		t.Fatalf("Recv after drain: %v", err)
	}
	if st := q.Stats(); st.RejectedClosed != 1 || st.Delivered != 11 {
		t.Errorf("stats after close %+v", st)
	}

	// A parked Recv is woken by Close.
	q2, _ := NewPullQueue[int](PullConfig{})
	go func() { time.Sleep(10 * time.Millisecond); q2.Close() }()
	within(t, 5*time.Second, "Recv woken by Close", func() {
		if _, err := q2.Recv(ctx); err != ErrClosed {
			t.Errorf("Recv on closed: %v", err)
		}
	})

	// A handler queue without a handler is a usage error.
	if _, err := NewQueue[int](nil, QueueConfig{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewQueue(nil): %v", err)
	}
}

// Close called from inside the handler returns (it cannot wait for itself),
// and everything accepted is still delivered.
func TestCloseFromHandler(t *testing.T) {
	var got atomic.Int64
	var q *Queue[int]
	closed := make(chan struct{})
	q, err := NewQueue(func(v int) {
		got.Add(1)
		if v == 5 {
			q.Close()
			close(closed)
		}
	}, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		q.Post(i)
	}
	within(t, 5*time.Second, "Close from handler", func() { <-closed })
	q.Close()
	if got.Load() != 10 {
		t.Errorf("delivered %d of 10", got.Load())
	}
}

// One post into a parked queue wakes it with one system call; posts made
// while the consumer runs make none. The handler holds the consumer busy on
// the first message, so the count is exact.
func TestOneWakeupPerBurst(t *testing.T) {
	gate := make(chan struct{})
	var got atomic.Int64
	q, err := NewQueue(func(v int) {
		if v == 0 {
			<-gate
		}
		got.Add(1)
	}, QueueConfig{Capacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "consumer parks", func() {
		for !q.h.Parked() {
			time.Sleep(100 * time.Microsecond)
		}
	})
	m := 0
	if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&m), unsafe.Sizeof(m)); rc != 0 {
		t.Fatal(rc)
	}
	for i := 1; i < 1000; i++ {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	within(t, 5*time.Second, "delivery", func() {
		for got.Load() != 1000 {
			time.Sleep(100 * time.Microsecond)
		}
	})
	// Read before Close, whose own wake-up of a parked consumer counts too.
	if st := q.Stats(); st.Wakeups != 1 {
		t.Errorf("wakeups %d, want 1", st.Wakeups)
	}
	q.Close()
}

// Ping-pong: post one message, wait for it, repeat — the consumer parks and
// is woken over and over, from C and from Go. A lost wake-up hangs here.
func TestNoLostWakeups(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		seen := make(chan int, 1)
		var q *Queue[int]
		var err error
		withHooks(hooks{pipe: pipe}, func() { q, err = NewQueue(func(v int) { seen <- v }, QueueConfig{}) })
		if err != nil {
			t.Fatal(err)
		}
		within(t, 60*time.Second, "ping-pong", func() {
			for i := range 3000 {
				if i%3 == 0 {
					// Let the consumer run out of spinning and park.
					time.Sleep(60 * time.Microsecond)
				}
				if i%2 == 0 {
					q.Post(i)
				} else {
					cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i))
				}
				if v := <-seen; v != i {
					t.Errorf("got %d want %d", v, i)
				}
			}
		})
		q.Close()
		t.Logf("pipe=%v: %+v", pipe, q.Stats())
	}
}

// Queues are made and closed many times; their C blocks are recycled.
func TestOpenCloseChurn(t *testing.T) {
	for i := range 2000 {
		q, err := NewQueue(func(int) {}, QueueConfig{Capacity: 4})
		if err != nil {
			t.Fatal(i, err)
		}
		q.Post(i)
		q.Close()
	}
	p, err := NewPullQueue[int](PullConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close() // empty pull queue: freed at once
	if !p.h.Freed() {
		t.Error("empty pull queue not freed by Close")
	}
}

// A pull-mode queue dropped without Close is freed by its cleanup, even
// with C producers still posting into it: they are refused from then on.
func TestAbandonedPullQueue(t *testing.T) {
	q, err := NewPullQueue[cthreads.Msg](PullConfig{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	tok := uintptr(q.Token())
	h := q.h                                // not the queue: its cleanup runs once the queue is unreachable
	p := cthreads.Start(tok, 2, 0, 0, true) // until closed
	q = nil
	within(t, 10*time.Second, "cleanup", func() {
		for !h.Freed() {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
	})
	if _, _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}
