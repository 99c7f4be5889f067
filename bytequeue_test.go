package foreign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// byteChecker checks every message a byte producer posted: its pattern,
// and per producer no loss, no duplicate, and order.
type byteChecker struct {
	seqs  *seqChecker
	mu    sync.Mutex
	errs  []error
	bytes uint64
}

func newByteChecker() *byteChecker { return &byteChecker{seqs: newSeqChecker()} }

func (c *byteChecker) see(m []byte) {
	p, seq, err := cthreads.CheckBytes(m)
	c.mu.Lock()
	c.bytes += uint64(len(m))
	if err != nil && len(c.errs) < 10 {
		c.errs = append(c.errs, err)
	}
	c.mu.Unlock()
	c.seqs.see(cthreads.Msg{Producer: p, Seq: seq})
}

func (c *byteChecker) check(t *testing.T, firstID uint32, accepted []uint64) {
	t.Helper()
	c.mu.Lock()
	for _, e := range c.errs {
		t.Error(e)
	}
	c.mu.Unlock()
	c.seqs.check(t, firstID, accepted)
}

// goMessage builds message seq of producer as the C threads do.
func goMessage(producer uint32, seq uint64, min, max int) []byte {
	n := cthreads.BytesLen(producer, seq, min, max)
	m := make([]byte, n)
	m[0], m[1], m[2], m[3] = byte(producer), byte(producer>>8), byte(producer>>16), byte(producer>>24)
	for i := range 4 {
		m[4+i] = byte(uint32(n) >> (8 * i))
	}
	for i := range 8 {
		m[8+i] = byte(seq >> (8 * i))
	}
	cthreads.BytesFill(m[cthreads.BytesHdr:], producer, seq)
	return m
}

// Messages of every length from C threads, posted every way (post, postv,
// postv_wait), and from Go, arrive whole, once each, in order per
// producer, through a ring small enough to wrap thousands of times.
func TestByteQueueStress(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max int
		capacity int
	}{
		{"small", 16, 64, 4096},
		{"mixed", 16, 3000, 16384},
		{"large", 60000, 65536, 0},
		{"wrap", 16, 1000, 4096}, // positions start just below their wrap
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newByteChecker()
			var h hooks
			if tc.name == "wrap" {
				h.start = 1<<fq.PosBits - 8192
			}
			var q *ByteQueue
			var err error
			withHooks(h, func() {
				q, err = NewByteQueue(c.see, ByteQueueConfig{Capacity: tc.capacity, MaxMessage: tc.max})
			})
			if err != nil {
				t.Fatal(err)
			}
			const n, count = 3, 3000
			ps := cthreads.StartBytes(uintptr(q.Token()), n, 1, count, tc.min, tc.max, cthreads.BytesMixed)
			var goAcc uint64
			for seq := uint64(0); seq < count; {
				err := q.Post(goMessage(100, seq, tc.min, tc.max))
				if errors.Is(err, ErrFull) {
					time.Sleep(10 * time.Microsecond)
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				seq++
				goAcc++
			}
			acc, err := ps.Wait()
			if err != nil {
				t.Fatal(err)
			}
			within(t, 10*time.Second, "Close", func() { q.Close() })
			c.check(t, 1, acc)
			c.check(t, 100, []uint64{goAcc})
			st := q.Stats()
			if st.Posted != sum(acc)+goAcc || st.Delivered != st.Posted || st.Depth != 0 {
				t.Errorf("stats %+v, want %d posted and delivered", st, sum(acc)+goAcc)
			}
			if st.PostedBytes != c.bytes || st.DeliveredBytes != c.bytes {
				t.Errorf("bytes posted %d delivered %d, handler saw %d", st.PostedBytes, st.DeliveredBytes, c.bytes)
			}
			if st.HighWater == 0 || st.HighWater > uint64(st.Capacity) {
				t.Errorf("high water %d of %d bytes", st.HighWater, st.Capacity)
			}
		})
	}
}

// The lengths at the edges: 0, 1, the maximum; longer is ErrMessageSize
// (FOREIGN_EMSGSIZE from C) and changes nothing.
func TestByteQueueLengths(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	q, err := NewByteQueue(func(m []byte) {
		mu.Lock()
		got = append(got, bytes.Clone(m))
		mu.Unlock()
	}, ByteQueueConfig{MaxMessage: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxMessage() != 1000 {
		t.Errorf("MaxMessage %d", q.MaxMessage())
	}
	want := [][]byte{{}, {1}, bytes.Repeat([]byte{2}, 7), bytes.Repeat([]byte{3}, 8), bytes.Repeat([]byte{4}, 1000)}
	for _, m := range want {
		if err := q.Post(m); err != nil {
			t.Fatalf("Post(%d bytes): %v", len(m), err)
		}
	}
	if err := q.Post(make([]byte, 1001)); !errors.Is(err, ErrMessageSize) {
		t.Errorf("Post(1001 bytes) = %v, want ErrMessageSize", err)
	}
	tok := uintptr(q.Token())
	if rc := cthreads.Postv(tok, make([]byte, 1001)); FromCode(rc) != ErrMessageSize {
		t.Errorf("foreign_postv(1001 bytes) = %d, want FOREIGN_EMSGSIZE", rc)
	}
	if rc := cthreads.Postv(tok, make([]byte, 600), make([]byte, 401)); FromCode(rc) != ErrMessageSize {
		t.Errorf("foreign_postv(600+401 bytes) = %d, want FOREIGN_EMSGSIZE", rc)
	}
	// A gather list: header and payload arrive as one message.
	if rc := cthreads.Postv(tok, []byte("head:"), nil, []byte("payload")); rc != 0 {
		t.Fatalf("foreign_postv = %d", rc)
	}
	want = append(want, []byte("head:payload"))
	if rc := cthreads.Postv(tok); rc != 0 {
		t.Fatalf("foreign_postv of no parts = %d", rc)
	}
	want = append(want, []byte{})
	q.Close()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("message %d: %d bytes %q, want %d bytes", i, len(got[i]), got[i][:min(len(got[i]), 16)], len(want[i]))
		}
	}
	if st := q.Stats(); st.Posted != uint64(len(want)) || st.RejectedFull != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Bad gather lists are refused with FOREIGN_EINVAL.
func TestPostvInvalid(t *testing.T) {
	q, err := NewByteQueue(func([]byte) {}, ByteQueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	tok := uintptr(q.Token())
	if rc := cthreads.Postv(tok, make([][]byte, 9)...); rc != -1 {
		t.Errorf("foreign_postv(NULL, 9) = %d, want FOREIGN_EINVAL", rc)
	}
	if rc := cthreads.Postv(0, []byte("x")); rc != -1 {
		t.Errorf("foreign_postv(token 0) = %d, want FOREIGN_EINVAL", rc)
	}
	// A fixed-size queue takes a gather list of its message's size.
	fq, err := NewQueue(func(cthreads.Msg) {}, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer fq.Close()
	if rc := cthreads.Postv(uintptr(fq.Token()), make([]byte, 4), make([]byte, 12)); rc != 0 {
		t.Errorf("foreign_postv(4+12 bytes) into a Queue[Msg] = %d", rc)
	}
	if rc := cthreads.Postv(uintptr(fq.Token()), make([]byte, 4)); rc != -1 {
		t.Errorf("foreign_postv(4 bytes) into a Queue[Msg] = %d, want FOREIGN_EINVAL", rc)
	}
}

// A message that does not fit now is refused with ErrFull, and fits once
// the consumer has made room; the handler's slice is the message in place.
func TestByteQueueFull(t *testing.T) {
	release := make(chan struct{})
	var n int
	q, err := NewByteQueue(func(m []byte) {
		if n == 0 {
			<-release
		}
		n++
	}, ByteQueueConfig{Capacity: 4096, MaxMessage: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Capacity != 4096 {
		t.Errorf("capacity %d", st.Capacity)
	}
	posted := 0
	for {
		err := q.Post(make([]byte, 1000))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		posted++
	}
	if posted < 3 || posted > 5 {
		t.Errorf("%d messages of 1008 bytes fit in 4096 (one being handled)", posted)
	}
	if rc := cthreads.Postv(uintptr(q.Token()), make([]byte, 1000)); FromCode(rc) != ErrFull {
		t.Errorf("foreign_postv into a full queue = %d", rc)
	}
	close(release)
	within(t, 5*time.Second, "PostWait", func() {
		if err := q.PostWait(context.Background(), make([]byte, 1000)); err != nil {
			t.Error(err)
		}
	})
	q.Close()
	if n != posted+1 {
		t.Errorf("handled %d, posted %d", n, posted+1)
	}
	if st := q.Stats(); st.RejectedFull != 2 {
		t.Errorf("rejected full %d, want 2", st.RejectedFull)
	}
}

// A large message waiting for room is not starved by small posts that
// would each fit into the room the consumer makes: the ring is full of
// small messages, a large post waits, and then, turn by turn, the reader
// takes one small message and a small post tries to take its place.
// Without the reservation every turn's room goes to the small post and the
// large one never fits; with it, small posts are refused until the large
// one's room is there. Deterministic: a fixed number of turns, no timing.
func TestByteQueueLargeNotStarved(t *testing.T) {
	for _, from := range []string{"Go", "C"} {
		t.Run(from, func(t *testing.T) {
			q, err := NewBytePullQueue(BytePullConfig{Capacity: 4096, MaxMessage: 1500})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			small := make([]byte, 56) // 56 bytes of data each: 73 fill the ring
			for q.Post(small) == nil {
			}
			done := make(chan error, 1)
			go func() {
				if from == "Go" {
					done <- q.PostWait(context.Background(), make([]byte, 1500))
				} else {
					done <- FromCode(cthreads.PostvWait(uintptr(q.Token()), -1, make([]byte, 1500)))
				}
			}()
			waitFor(t, "the large post to reserve its room", q.h.Reserved)
			// Turn by turn, until a small post is refused (the reservation
			// at work) or the large message comes.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			buf := make([]byte, 0, 1500)
			large, refused := false, false
			for turn := 0; turn < 400 && !large && !refused; turn++ {
				m, err := q.ReadInto(ctx, buf)
				if err != nil {
					t.Fatal(err)
				}
				large = len(m) == 1500
				refused = !large && q.Post(small) != nil
			}
			if !large && !refused {
				t.Fatal("the large post never got in: 400 turns of room went to small posts")
			}
			// Then its room appears as the reader drains, and nothing takes it.
			for !large {
				m, err := q.ReadInto(ctx, buf)
				if err != nil {
					t.Fatalf("the large message never came: %v", err)
				}
				large = len(m) == 1500
			}
			within(t, 10*time.Second, "the large post's return", func() {
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// Every message from a batch handler's slice is in place and whole.
func TestByteBatchQueue(t *testing.T) {
	c := newByteChecker()
	batches := 0
	q, err := NewByteBatchQueue(func(ms [][]byte) {
		batches++
		for _, m := range ms {
			c.see(m)
		}
	}, ByteQueueConfig{Capacity: 8192, MaxMessage: 500})
	if err != nil {
		t.Fatal(err)
	}
	ps := cthreads.StartBytes(uintptr(q.Token()), 2, 1, 5000, 16, 500, cthreads.BytesPostv)
	acc, err := ps.Wait()
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	c.check(t, 1, acc)
	if batches == 0 {
		t.Error("no batch")
	}
}

// A handler that panics loses only its own message; the others arrive.
func TestByteQueuePanic(t *testing.T) {
	var got []string
	var panics int
	q, err := NewByteQueue(func(m []byte) {
		if string(m) == "boom" {
			panic("boom")
		}
		got = append(got, string(m))
	}, ByteQueueConfig{OnPanic: func(*PanicError) { panics++ }})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"a", "boom", "b", "boom", "c"} {
		if err := q.Post([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	if fmt.Sprint(got) != "[a b c]" || panics != 2 {
		t.Errorf("got %v, %d panics", got, panics)
	}
	if st := q.Stats(); st.Delivered != 5 || st.Panics != 2 {
		t.Errorf("stats %+v", st)
	}
}

// Bad configurations are refused.
func TestByteQueueConfig(t *testing.T) {
	for _, cfg := range []ByteQueueConfig{
		{MaxMessage: -1},
		{MaxMessage: 1<<30 + 1},
		{Capacity: -1},
	} {
		if _, err := NewByteQueue(func([]byte) {}, cfg); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", cfg, err)
		}
	}
	if _, err := NewByteQueue(nil, ByteQueueConfig{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil handler: %v", err)
	}
	// 1 MiB messages are allowed; the ring grows to hold two.
	q, err := NewByteQueue(func([]byte) {}, ByteQueueConfig{MaxMessage: 1 << 20, Capacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if st := q.Stats(); st.Capacity < 2<<20 {
		t.Errorf("capacity %d for 1 MiB messages", st.Capacity)
	}
	if err := q.Post(make([]byte, 1<<20)); err != nil {
		t.Error(err)
	}
}
