package foreign

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// A byte queue and a byte function are woken from either way to park, by
// C and by Go.
func TestBytesWakeFromEachPark(t *testing.T) {
	withPark(t, func(t *testing.T, mode int) {
		t.Run("queue", func(t *testing.T) {
			got := make(chan string, 1)
			q, err := NewByteQueue(func(m []byte) { got <- string(m) }, ByteQueueConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			for i := range 20 {
				parkedOn(t, q.h, mode)
				want := string(rune('a' + i))
				if i%2 == 0 {
					err = q.Post([]byte(want))
				} else {
					err = FromCode(cthreads.Postv(uintptr(q.Token()), []byte(want)))
				}
				if err != nil {
					t.Fatal(err)
				}
				within(t, 10*time.Second, "delivery", func() {
					if m := <-got; m != want {
						t.Errorf("got %q, want %q", m, want)
					}
				})
			}
		})
		t.Run("func", func(t *testing.T) {
			f, err := NewBytesFunc(twice, BytesFuncConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for i := range 20 {
				parkedOn(t, f.q.h, mode)
				var r []byte
				if i%2 == 0 {
					r, err = f.Call(context.Background(), []byte("xy"), nil)
				} else {
					var rc int
					r, _, rc = cthreads.Callv(uintptr(f.Token()), []byte("xy"), 16, int64(10*time.Second))
					err = FromCode(rc)
				}
				if err != nil || string(r) != "xyxy" {
					t.Fatalf("call %d = %q, %v", i, r, err)
				}
			}
		})
	})
}

// A byte queue freed by Release is inert once another has its block: its
// token gets ECLOSED and its Go value ErrClosed; the new one is untouched.
func TestFreedByteQueueIsInert(t *testing.T) {
	fin := make(chan struct{})
	q1, err := NewByteQueue(func([]byte) {}, ByteQueueConfig{OnClose: func() { close(fin) }})
	if err != nil {
		t.Fatal(err)
	}
	_ = q1.Post([]byte("one"))
	q1.Release()
	within(t, 5*time.Second, "OnClose after Release", func() { <-fin })
	var got atomic.Int64
	q2 := reuse(t, q1.Token(), func() (*ByteQueue, error) {
		return NewByteQueue(func(m []byte) { got.Add(int64(len(m))) }, ByteQueueConfig{})
	})
	q1.Close()
	if err := q1.Post([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Post through the freed queue: %v", err)
	}
	if err := q1.PostWait(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("PostWait through the freed queue: %v", err)
	}
	if rc := cthreads.Postv(uintptr(q1.Token()), []byte("x")); rc != fq.CodeClosed {
		t.Errorf("foreign_postv with the freed queue's token: %d", rc)
	}
	if err := q2.Post([]byte("two")); err != nil {
		t.Fatalf("the queue that reused the block: %v", err)
	}
	if st := q1.Stats(); st.Delivered != 1 || st.DeliveredBytes != 3 || st.PostedBytes != 3 {
		t.Errorf("old queue's stats %+v", st)
	}
	q2.Close()
	if got.Load() != 3 {
		t.Errorf("new queue handled %d bytes, want 3", got.Load())
	}
}

// C references keep a byte queue open after Release; the last
// foreign_release closes it, and everything accepted is delivered first.
func TestByteQueueCReferences(t *testing.T) {
	fin := make(chan struct{})
	var n atomic.Int64
	q, err := NewByteQueue(func([]byte) { n.Add(1) }, ByteQueueConfig{OnClose: func() { close(fin) }})
	if err != nil {
		t.Fatal(err)
	}
	tok := uintptr(q.Token())
	if rc := cthreads.Acquire(tok); rc != 0 {
		t.Fatal(rc)
	}
	q.Release()
	for range 100 {
		if rc := cthreads.Postv(tok, []byte("m")); rc != 0 {
			t.Fatal(rc)
		}
	}
	if rc := cthreads.Release(tok); rc != 0 {
		t.Fatal(rc)
	}
	within(t, 5*time.Second, "OnClose after the last foreign_release", func() { <-fin })
	if n.Load() != 100 {
		t.Errorf("delivered %d of 100", n.Load())
	}
	if rc := cthreads.Postv(tok, []byte("m")); rc != fq.CodeClosed {
		t.Errorf("post after the last release: %d", rc)
	}
}

// A handler that ends its goroutine (runtime.Goexit) loses only its own
// message; the rest of its batch, in place in the ring, is still
// delivered, once each, by the consumer that takes over.
func TestByteQueueGoexit(t *testing.T) {
	var seen []string
	var exits int
	q2, err := NewByteQueue(func(m []byte) {
		if string(m) == "exit" {
			exits++
			runtime.Goexit()
		}
		seen = append(seen, string(m))
	}, ByteQueueConfig{OnPanic: func(*PanicError) {}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "exit", "b", "exit", "c"} {
		if err := q2.Post([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	within(t, 5*time.Second, "Close", func() { q2.Close() })
	if len(seen) != 3 || seen[0] != "a" || seen[1] != "b" || seen[2] != "c" || exits != 2 {
		t.Errorf("seen %v, %d exits", seen, exits)
	}
	if st := q2.Stats(); st.Delivered != 5 || st.Panics != 2 || st.Depth != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A byte queue's handler that waits for room in its own full queue would
// wait for itself: PostWait returns ErrDeadlock, and foreign_postv_wait
// from its thread FOREIGN_EDEADLK. Close from the handler returns at once.
func TestByteQueueSelfDeadlock(t *testing.T) {
	var q *ByteQueue
	res := make(chan [3]error, 1)
	var err error
	q, err = NewByteQueue(func(m []byte) {
		if string(m) != "go" {
			return
		}
		for q.Post(make([]byte, 500)) == nil {
		}
		e1 := q.PostWait(context.Background(), make([]byte, 500))
		e2 := FromCode(cthreads.PostvWait(uintptr(q.Token()), -1, make([]byte, 500)))
		e3 := q.Close()
		res <- [3]error{e1, e2, e3}
	}, ByteQueueConfig{Capacity: 4096, MaxMessage: 500})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Post([]byte("go")); err != nil {
		t.Fatal(err)
	}
	var r [3]error
	within(t, 5*time.Second, "the handler", func() { r = <-res })
	if !errors.Is(r[0], ErrDeadlock) || !errors.Is(r[1], ErrDeadlock) || r[2] != nil {
		t.Errorf("PostWait %v, foreign_postv_wait %v, Close %v", r[0], r[1], r[2])
	}
	within(t, 5*time.Second, "Close", func() { q.Close() })
}

// A BytePullQueue nobody reads or closes any more is freed when it
// becomes unreachable; its token then gets ECLOSED.
func TestBytePullQueueCleanup(t *testing.T) {
	q, err := NewBytePullQueue(BytePullConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tok := uintptr(q.Token())
	_ = q.Post([]byte("left behind"))
	q = nil
	waitFor(t, "the cleanup", func() bool {
		runtime.GC()
		return cthreads.Postv(tok, []byte("x")) == fq.CodeClosed
	})
}
