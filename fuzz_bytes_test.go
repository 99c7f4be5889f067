package foreign

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// FuzzByteFraming drives a byte ring with a sequence read from the
// fuzzer's bytes: its size, its longest message and its first position
// (near the wrap of positions), then posts from Go and from C (gather
// lists cut at any points, parts of length 0) of any length up to one past
// the maximum, reads with buffers too small and large enough, in any
// interleaving. A reference model of the framing (records padded to 8, a
// pad record at the ring's end) says exactly which post fits, which is
// refused as full and which as too long, and what each read returns. The
// corpus is in testdata/fuzz/FuzzByteFraming; CI fuzzes on for a bounded
// time.
func FuzzByteFraming(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 10, 1, 200, 2, 2, 3, 50, 7, 2, 2, 2})
	f.Add([]byte{3, 9, 5, 1, 255, 1, 255, 0, 255, 2, 1, 1, 2, 2, 0, 0, 2})
	f.Add([]byte{1, 200, 31, 0, 100, 1, 100, 0, 100, 0, 100, 2, 0, 8, 2, 2, 1, 0, 0, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 3 || len(ops) > 400 {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			runFraming(t, ops)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the sequence %v did not finish within 10 s", ops)
		}
	})
}

// framingModel is what the ring must hold: the tail and head positions
// as the framing moves them, and the messages in it with the room each
// took (its pad included).
type framingModel struct {
	size, tail, head uint64
	max              int
	msgs             [][]byte
	took             []uint64
}

// post says what a post of m must return, and takes it in if it fits.
func (fm *framingModel) post(m []byte) error {
	if len(m) > fm.max {
		return ErrMessageSize
	}
	rec := max(8, (uint64(len(m))+7)&^7) // records are padded to 8 bytes, 8 at least; headers are apart
	toEnd := fm.size - fm.tail%fm.size
	total := rec
	if rec > toEnd {
		total = toEnd + rec
	}
	if fm.tail-fm.head+total > fm.size {
		return ErrFull
	}
	fm.tail += total
	fm.msgs = append(fm.msgs, m)
	fm.took = append(fm.took, total)
	return nil
}

func runFraming(t *testing.T, ops []byte) {
	size := 256 << (ops[0] % 5)                       // 256 B to 4 KiB
	maxMsg := 1 + int(ops[1])%(size/2-8)              // up to the most the ring allows
	start := uint64(1)<<fq.PosBits - 8*uint64(ops[2]) // up to 2 KiB before the wrap
	var q *BytePullQueue
	var err error
	withHooks(hooks{start: start}, func() {
		q, err = NewBytePullQueue(BytePullConfig{Capacity: size, MaxMessage: maxMsg})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if got := q.Stats().Capacity; got != size {
		t.Fatalf("capacity %d, want %d", got, size)
	}
	fm := &framingModel{size: uint64(size), max: maxMsg, tail: start, head: start}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n uint64 // messages made, for their contents
	var posted, postedBytes uint64
	next := func(i *int) byte {
		*i++
		if *i < len(ops) {
			return ops[*i]
		}
		return 0
	}
	msgOf := func(l int) []byte {
		n++
		m := make([]byte, l)
		for j := range m {
			m[j] = byte(n*131 + uint64(j)*7)
		}
		return m
	}
	buf := make([]byte, 0, 16)
	for i := 3; i < len(ops); i++ {
		op := ops[i] % 4
		switch op {
		case 0, 1: // a post from Go (0) or C (1) of a length from the next two bytes
			l := (int(next(&i))<<8 | int(next(&i))) % (maxMsg + 2)
			m := msgOf(l)
			want := fm.post(m)
			var got error
			if op == 0 {
				got = q.Post(m)
			} else {
				// Cut the message into up to three parts at points from the next bytes.
				a := int(next(&i)) % (l + 1)
				b := a + int(next(&i))%(l-a+1)
				got = FromCode(cthreads.Postv(uintptr(q.Token()), m[:a], m[a:b], m[b:]))
			}
			if !errors.Is(got, want) && !(got == nil && want == nil) {
				t.Fatalf("op %d: post of %d bytes (%s) = %v, want %v (tail %d head %d of %d)", i, l,
					[]string{"Go", "C"}[op], got, want, fm.tail, fm.head, fm.size)
			}
			if want == nil {
				posted++
				postedBytes += uint64(l)
			}
		case 2, 3: // a read, into a buffer too small (2) or kept from before (3)
			if len(fm.msgs) == 0 {
				continue
			}
			if op == 2 {
				buf = make([]byte, 0, int(next(&i))%8)
			}
			got, err := q.ReadInto(ctx, buf)
			if err != nil {
				t.Fatalf("op %d: read: %v", i, err)
			}
			if !bytes.Equal(got, fm.msgs[0]) {
				t.Fatalf("op %d: read %d bytes, want the %d bytes posted", i, len(got), len(fm.msgs[0]))
			}
			buf = got
			fm.head += fm.took[0]
			fm.msgs, fm.took = fm.msgs[1:], fm.took[1:]
		}
	}
	st := q.Stats()
	if st.Posted != posted || st.PostedBytes != postedBytes || st.Depth != uint64(len(fm.msgs)) {
		t.Fatalf("stats %+v, want %d posted, %d bytes, depth %d", st, posted, postedBytes, len(fm.msgs))
	}
	// Close delivers what is left, in order.
	q.Close()
	for _, want := range fm.msgs {
		got, err := q.ReadInto(ctx, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after Close: %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
	if _, err := q.ReadInto(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("drained: %v", err)
	}
}
