package foreign

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

func twice(arg, out []byte) []byte { return append(append(out, arg...), arg...) }

// C threads call a BytesFunc with arguments of every length up to 64 KiB
// as gather lists, and get results twice as long; a buffer too small gets
// FOREIGN_EMSGSIZE, the length it needs, and is not written.
func TestBytesFuncFromC(t *testing.T) {
	f, err := NewBytesFunc(twice, BytesFuncConfig{Capacity: 256 << 10, MaxArg: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ok, short, bad := cthreads.CallvThreads(uintptr(f.Token()), 3, 400, 64<<10, int64(10*time.Second))
	if bad != 0 {
		t.Fatalf("a caller got %d (%s)", bad, fq.Strerror(bad))
	}
	if ok != 900 || short != 300 {
		t.Errorf("ok %d short %d, want 900 and 300", ok, short)
	}
	within(t, 5*time.Second, "Close", func() { f.Close() })
	if st := f.Stats(); st.Posted != 1200 || st.Delivered != 1200 || st.LateResults != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Results of 1 MiB and more, to C and to Go; arguments of 1 MiB.
func TestBytesFuncLarge(t *testing.T) {
	f, err := NewBytesFunc(func(arg, out []byte) []byte {
		if len(arg) == 1 {
			return append(out, bytes.Repeat([]byte{arg[0]}, 3<<20)...)
		}
		return append(out, byte(len(arg)>>20))
	}, BytesFuncConfig{MaxArg: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.MaxArg() != 1<<20 {
		t.Errorf("MaxArg %d", f.MaxArg())
	}
	res, n, rc := cthreads.Callv(uintptr(f.Token()), []byte{7}, 3<<20, int64(10*time.Second))
	if rc != 0 || n != 3<<20 || !bytes.Equal(res, bytes.Repeat([]byte{7}, 3<<20)) {
		t.Errorf("3 MiB result from C: rc %d, %d bytes", rc, n)
	}
	_, n, rc = cthreads.Callv(uintptr(f.Token()), make([]byte, 1<<20), 16, int64(10*time.Second))
	if rc != 0 || n != 1 {
		t.Errorf("1 MiB argument from C: rc %d n %d", rc, n)
	}
	_, _, rc = cthreads.Callv(uintptr(f.Token()), make([]byte, 1<<20+1), 16, int64(10*time.Second))
	if rc != fq.CodeMsgSize {
		t.Errorf("argument over MaxArg from C: rc %d", rc)
	}
	out, err := f.Call(context.Background(), []byte{9}, nil)
	if err != nil || !bytes.Equal(out, bytes.Repeat([]byte{9}, 3<<20)) {
		t.Errorf("3 MiB result to Go: %v, %d bytes", err, len(out))
	}
	if _, err := f.Call(context.Background(), make([]byte, 1<<20+1), nil); !errors.Is(err, ErrMessageSize) {
		t.Errorf("argument over MaxArg from Go: %v", err)
	}
}

// A Go caller's result is appended to its buffer: a caller that passes back
// what it got allocates nothing.
func TestBytesFuncGo(t *testing.T) {
	f, err := NewBytesFunc(twice, BytesFuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	buf := make([]byte, 0, 64)
	out, err := f.Call(ctx, []byte("ab"), buf)
	if err != nil || string(out) != "abab" || &out[0] != &buf[:1][0] {
		t.Fatalf("Call = %q, %v (in the caller's buffer: %v)", out, err, len(out) > 0 && &out[0] == &buf[:1][0])
	}
	arg := []byte("0123456789")
	allocs := testing.AllocsPerRun(200, func() {
		out, err = f.Call(ctx, arg, out)
	})
	if err != nil || string(out) != "01234567890123456789" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	if allocs > 0.5 {
		t.Errorf("%.1f allocations per call", allocs)
	}
}

// A C caller that gives up is never written to afterwards, however large
// the result; the result is counted late.
func TestBytesFuncTimeout(t *testing.T) {
	release := make(chan struct{})
	f, err := NewBytesFunc(func(arg, out []byte) []byte {
		<-release
		return append(out, make([]byte, 1<<20)...)
	}, BytesFuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, rc := cthreads.Callv(uintptr(f.Token()), []byte("x"), 2<<20, int64(20*time.Millisecond))
	if rc != fq.CodeTimedOut {
		t.Errorf("rc %d, want FOREIGN_ETIMEDOUT", rc)
	}
	close(release)
	within(t, 5*time.Second, "Close", func() { f.Close() })
	if st := f.Stats(); st.LateResults != 1 || st.TimedOut != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A panic answers the caller with FOREIGN_EPANIC / ErrPanic; foreign_call,
// which wants a fixed-size result, is refused; a closed function refuses.
func TestBytesFuncErrors(t *testing.T) {
	f, err := NewBytesFunc(func(arg, out []byte) []byte {
		if string(arg) == "boom" {
			panic("boom")
		}
		return out
	}, BytesFuncConfig{OnPanic: func(*PanicError) {}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, rc := cthreads.Callv(uintptr(f.Token()), []byte("boom"), 8, -1); rc != fq.CodePanic {
		t.Errorf("panic from C: %d", rc)
	}
	if _, err := f.Call(context.Background(), []byte("boom"), nil); !errors.Is(err, ErrPanic) {
		t.Errorf("panic from Go: %v", err)
	}
	var r [8]byte
	a := []byte("x")
	if rc := cthreads.Call(uintptr(f.Token()), unsafePtr(a), 1, unsafePtr(r[:]), 8, -1); rc != fq.CodeInval {
		t.Errorf("foreign_call into a BytesFunc: %d", rc)
	}
	if _, n, rc := cthreads.Callv(uintptr(f.Token()), nil, 0, -1); rc != 0 || n != 0 {
		t.Errorf("empty call: rc %d n %d", rc, n)
	}
	f.Close()
	if _, _, rc := cthreads.Callv(uintptr(f.Token()), []byte("x"), 8, -1); rc != fq.CodeClosed {
		t.Errorf("closed from C: %d", rc)
	}
	if _, err := f.Call(context.Background(), nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed from Go: %v", err)
	}
}

// A Func of fixed types takes foreign_callv too, and results of 1 MiB.
func TestFuncLargeResult(t *testing.T) {
	type big [1 << 20]byte
	f, err := NewFunc(func(b byte) (r big) {
		for i := range r {
			r[i] = b + byte(i)
		}
		return r
	}, FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, n, rc := cthreads.Callv(uintptr(f.Token()), []byte{3}, 1<<20+100, -1)
	if rc != 0 || n != 1<<20 || res[12345] != byte(3+12345%256) {
		t.Errorf("rc %d n %d", rc, n)
	}
	if _, _, rc := cthreads.Callv(uintptr(f.Token()), []byte{3}, 1<<20-1, -1); rc != fq.CodeInval {
		t.Errorf("a buffer shorter than the result type: %d", rc)
	}
}

// A byte queue and a BytesFunc on a Loop, with a queue of a Go type
// beside them: each is served, in order.
func TestBytesOnLoop(t *testing.T) {
	l, err := NewLoop(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := newByteChecker()
	q, err := NewByteQueue(c.see, ByteQueueConfig{Loop: l, Capacity: 8192, MaxMessage: 1000})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewBytesFunc(twice, BytesFuncConfig{Loop: l})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	defer func() { // even on a failure: a Loop left running would fail the leak checks of later tests
		q.Close()
		f.Close()
		cancel()
		<-done
	}()
	ps := cthreads.StartBytes(uintptr(q.Token()), 2, 1, 3000, 16, 1000, cthreads.BytesMixed)
	ok, short, bad := cthreads.CallvThreads(uintptr(f.Token()), 2, 200, 4096, int64(30*time.Second))
	acc, err := ps.Wait()
	if err != nil || bad != 0 || ok != 300 || short != 100 {
		t.Fatalf("producers %v; callers ok %d short %d bad %d (stats: queue %+v, func %+v)", err, ok, short, bad,
			q.Stats(), f.Stats())
	}
	q.Close()
	c.check(t, 1, acc)
}

// A pull reader gets every message whole, in its own buffer, and
// allocates nothing once the buffer is large enough.
func TestBytePullQueue(t *testing.T) {
	q, err := NewBytePullQueue(BytePullConfig{Capacity: 8192, MaxMessage: 2000})
	if err != nil {
		t.Fatal(err)
	}
	c := newByteChecker()
	ps := cthreads.StartBytes(uintptr(q.Token()), 2, 1, 3000, 16, 2000, cthreads.BytesMixed)
	ctx := context.Background()
	buf := make([]byte, 0, 2000)
	for range 6000 {
		m, err := q.ReadInto(ctx, buf)
		if err != nil {
			t.Fatal(err)
		}
		if &m[0] != &buf[:1][0] {
			t.Fatal("ReadInto did not use the buffer")
		}
		c.see(m)
	}
	acc, err := ps.Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.check(t, 1, acc)
	if err := q.Post([]byte("x")); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = q.Post([]byte("abc"))
		buf, _ = q.ReadInto(ctx, buf)
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per post and read", allocs)
	}
	// A message longer than the buffer grows it; Recv allocates its own.
	m, err := q.ReadInto(ctx, make([]byte, 0, 1))
	if err != nil || string(m) != "x" && string(m) != "abc" {
		t.Errorf("ReadInto = %q, %v", m, err)
	}
	q.Close()
	for {
		if _, err := q.Recv(ctx); err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("after Close: %v", err)
			}
			break
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := q.ReadInto(ctx2, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after drained: %v", err)
	}
}

func unsafePtr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// A Go call into a Func allocates nothing in the steady state: the error
// for a runtime.Goexit used to be made, and escape, on every call.
func TestFuncCallAllocs(t *testing.T) {
	f, err := NewFunc(func(a int) int { return a + 1 }, FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if r, err := f.Call(ctx, 1); r != 2 || err != nil {
			t.Fatal(r, err)
		}
	})
	if allocs > 0.5 {
		t.Errorf("%.1f allocations per call", allocs)
	}
}

// With workers, calls run in parallel, each on its own copy of its
// argument, and every caller gets its own result; a worker may call the
// function itself while another worker is free.
func TestBytesFuncWorkers(t *testing.T) {
	var f *BytesFunc
	var err error
	f, err = NewBytesFunc(func(arg, out []byte) []byte {
		if string(arg) == "nested" {
			r, err := f.Call(context.Background(), []byte("in"), nil)
			if err != nil {
				return append(out, err.Error()...)
			}
			return append(out, r...)
		}
		time.Sleep(50 * time.Microsecond) // overlap the calls
		return twice(arg, out)
	}, BytesFuncConfig{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ok, short, bad := cthreads.CallvThreads(uintptr(f.Token()), 4, 200, 8192, int64(10*time.Second))
	if bad != 0 || ok != 600 || short != 200 {
		t.Fatalf("ok %d short %d bad %d (%s)", ok, short, bad, fq.Strerror(bad))
	}
	if r, err := f.Call(context.Background(), []byte("nested"), nil); err != nil || string(r) != "inin" {
		t.Errorf("nested call: %q, %v", r, err)
	}
	within(t, 5*time.Second, "Close", func() { f.Close() })
	if _, err := NewBytesFunc(twice, BytesFuncConfig{Workers: -1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Workers -1: %v", err)
	}
}
