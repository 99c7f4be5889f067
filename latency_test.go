package foreign

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// Latency is off by default: no histograms, and the ring is as it was.
func TestLatencyOff(t *testing.T) {
	q, err := NewQueue(func(int) {}, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if l := q.Latency(); l.Queued != nil || l.Handled != nil {
		t.Errorf("latency recorded without being asked: %+v", l)
	}
	if q.h.Stamped() {
		t.Error("messages stamped without being asked")
	}
}

// checkLatency checks that n messages were recorded, each waited at
// least minWait on the slowest, and the handler took about handled each.
func checkLatency(t *testing.T, l Latency, n uint64, minWait, handled time.Duration) {
	t.Helper()
	if l.Queued == nil || l.Queued.Count() != n {
		t.Fatalf("queued: %+v, want %d recorded", l.Queued, n)
	}
	if l.Queued.Max() < minWait || l.Queued.Max() > 10*time.Second {
		t.Errorf("queued max %v, want at least %v", l.Queued.Max(), minWait)
	}
	if handled > 0 {
		if l.Handled == nil || l.Handled.Count() != n {
			t.Fatalf("handled: %+v, want %d recorded", l.Handled, n)
		}
		if p50 := l.Handled.Quantile(0.5); p50 < handled || p50 > handled+50*time.Millisecond {
			t.Errorf("handled p50 %v, want about %v", p50, handled)
		}
	}
}

// Posts from C and from Go, stamped by their producers, are recorded:
// the wait behind a slow handler shows in Queued, the handler's time in
// Handled.
func TestQueueLatency(t *testing.T) {
	q, err := NewQueue(func(v int) { time.Sleep(2 * time.Millisecond) }, QueueConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if i%2 == 0 {
			_ = q.Post(i)
		} else if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i)); rc != 0 {
			t.Fatal(rc)
		}
	}
	q.Close()
	// The tenth message waited behind nine handlers of 2 ms.
	checkLatency(t, q.Latency(), 10, 15*time.Millisecond, 2*time.Millisecond)
	if p := q.Latency().Queued.Quantile(0.1); p > 5*time.Millisecond {
		t.Errorf("the first message waited %v", p)
	}
}

// A batch handler's time is recorded per batch.
func TestBatchQueueLatency(t *testing.T) {
	release := make(chan struct{})
	q, err := NewBatchQueue(func(vs []int) { <-release }, QueueConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Post(1)
	time.Sleep(5 * time.Millisecond) // the first batch is being handled
	for i := range 9 {
		_ = q.Post(i)
	}
	close(release)
	q.Close()
	l := q.Latency()
	if l.Queued.Count() != 10 || l.Handled.Count() < 2 || l.Handled.Count() > 10 {
		t.Errorf("queued %d, handled %d batches", l.Queued.Count(), l.Handled.Count())
	}
}

// A Func records each call's wait and the function's time, C and Go
// callers alike, with one worker and with several.
func TestFuncLatency(t *testing.T) {
	for _, workers := range []int{1, 3} {
		f, err := NewFunc(func(x int) int { time.Sleep(time.Millisecond); return x }, FuncConfig{Latency: true, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			if i%2 == 0 {
				if _, err := f.Call(context.Background(), i); err != nil {
					t.Fatal(err)
				}
			} else {
				var r int
				if rc := cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i), unsafe.Pointer(&r), unsafe.Sizeof(r), 10*time.Second); rc != 0 {
					t.Fatal(rc)
				}
			}
		}
		f.Close()
		checkLatency(t, f.Latency(), 6, 0, time.Millisecond)
	}
}

// Byte queues, byte functions and pull queues record too.
func TestBytesAndPullLatency(t *testing.T) {
	bq, err := NewByteQueue(func([]byte) { time.Sleep(time.Millisecond) }, ByteQueueConfig{Latency: true, Capacity: 4096, MaxMessage: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if i%2 == 0 {
			_ = bq.Post(make([]byte, i*10))
		} else if rc := cthreads.Postv(uintptr(bq.Token()), make([]byte, i*10)); rc != 0 {
			t.Fatal(rc)
		}
	}
	bq.Close()
	checkLatency(t, bq.Latency(), 8, 5*time.Millisecond, time.Millisecond)

	bf, err := NewBytesFunc(func(a, out []byte) []byte { time.Sleep(time.Millisecond); return append(out, a...) }, BytesFuncConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := bf.Call(context.Background(), []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		if _, _, rc := cthreads.Callv(uintptr(bf.Token()), []byte("x"), 8, -1); rc != 0 {
			t.Fatal(rc)
		}
	}
	bf.Close()
	checkLatency(t, bf.Latency(), 8, 0, time.Millisecond)

	pq, err := NewPullQueue[int](PullConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = pq.Post(1)
	time.Sleep(3 * time.Millisecond)
	if _, err := pq.Recv(context.Background()); err != nil {
		t.Fatal(err)
	}
	pq.Close()
	checkLatency(t, pq.Latency(), 1, 3*time.Millisecond, 0)
	if pq.Latency().Handled != nil {
		t.Error("a pull queue has no handler time")
	}

	bp, err := NewBytePullQueue(BytePullConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = bp.Post([]byte("y"))
	time.Sleep(3 * time.Millisecond)
	if _, err := bp.ReadInto(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	bp.Close()
	checkLatency(t, bp.Latency(), 1, 3*time.Millisecond, 0)
}

// Recording allocates nothing per message.
func TestLatencyAllocs(t *testing.T) {
	q, err := NewQueue(func(int) {}, QueueConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	allocs := testing.AllocsPerRun(1000, func() {
		for q.Post(1) != nil {
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per post", allocs)
	}
}
