package foreign

import (
	"context"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// FuzzABI runs a sequence of operations, read from the fuzzer's bytes,
// on a handle of every kind — a pull queue, a function, an interrupt, a
// notifier — through the C ABI and the Go API alike: posts from C and Go
// with right and wrong lengths, reads, closes and reopens, stale, zero and
// random tokens, references, signals, takes and calls. A reference model
// says what each must return; any difference, crash or hang fails. The
// corpus is in testdata/fuzz/FuzzABI; CI fuzzes on for a bounded time.
func FuzzABI(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 0, 3, 2, 2, 9, 9, 9})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 2, 5, 6, 7, 8, 10, 11, 3, 4, 0})
	f.Add([]byte{9, 9, 9, 9, 12, 12, 3, 13, 0, 2, 7, 7, 8, 8, 10})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		// A hang is a failure the fuzzer can keep, not a stuck worker.
		done := make(chan struct{})
		go func() {
			defer close(done)
			m := newABIModel(t)
			defer m.close()
			for i, op := range ops {
				m.step(i, op)
				if t.Failed() {
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the sequence %v did not finish within 10 s", ops)
		}
	})
}

// abiModel is the handles under test and what they must hold.
type abiModel struct {
	t      *testing.T
	q      *PullQueue[uint64]
	qOpen  bool
	queued []uint64
	cRefs  int
	stale  []Token
	f      *Func[uint64, uint64]
	i      *Interrupt
	pend   *int
	n      *Notifier
	seq    uint64
}

const abiCap = 4

func newABIModel(t *testing.T) *abiModel {
	m := &abiModel{t: t}
	m.open()
	var err error
	if m.f, err = NewFunc(func(x uint64) uint64 { return x*7 + 1 }, FuncConfig{Capacity: 2}); err != nil {
		t.Fatal(err)
	}
	if m.i, err = NewInterrupt(nil, InterruptConfig{}); err != nil {
		t.Fatal(err)
	}
	if m.n, err = NewNotifier(func() {}, NotifierConfig{Repeat: true}); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *abiModel) open() {
	q, err := NewPullQueue[uint64](PullConfig{Capacity: abiCap})
	if err != nil {
		m.t.Fatal(err)
	}
	m.q, m.qOpen, m.queued, m.cRefs = q, true, nil, 0
}

func (m *abiModel) close() {
	for m.cRefs > 0 {
		cthreads.Release(uintptr(m.q.Token()))
		m.cRefs--
	}
	m.q.Close()
	m.f.Close()
	m.i.Close()
	m.n.Close()
}

// want fails the test unless got equals the model's expectation.
func (m *abiModel) want(step int, what string, got, want int) {
	if got != want {
		m.t.Errorf("step %d, %s: got %d (%s), want %d (%s)", step, what, got, fq.Strerror(got), want, fq.Strerror(want))
	}
}

// postCode is what a post of a right-sized message must return now.
func (m *abiModel) postCode() int {
	switch {
	case !m.qOpen:
		return fq.CodeClosed
	case len(m.queued) == abiCap:
		return fq.CodeFull
	}
	return 0
}

func (m *abiModel) step(i int, op byte) {
	tok := uintptr(m.q.Token())
	switch op % 14 {
	case 0, 1: // post from C, or from Go
		m.seq++
		v := m.seq
		want := m.postCode()
		var got int
		if op%14 == 0 {
			got = cthreads.Post(tok, unsafe.Pointer(&v), 8)
		} else {
			got = Code(m.q.Post(v))
		}
		m.want(i, "post", got, want)
		if want == 0 && got == 0 {
			m.queued = append(m.queued, v)
		}
	case 2: // read what is ready, without waiting
		var buf [abiCap]uint64
		n := m.q.tryRecv(buf[:])
		if n > len(m.queued) {
			m.t.Errorf("step %d: read %d, only %d queued", i, n, len(m.queued))
			return
		}
		for k := range n {
			if buf[k] != m.queued[k] {
				m.t.Errorf("step %d: read %d, want %d", i, buf[k], m.queued[k])
			}
		}
		m.queued = m.queued[n:]
		if n == 0 && len(m.queued) > 0 && m.q.Stats().Depth != 0 {
			// A message published by this goroutine is ready at once.
			m.t.Errorf("step %d: nothing read with %d queued", i, len(m.queued))
		}
	case 3: // close the queue; what it holds is still read
		m.q.Close()
		m.qOpen = false
	case 4: // a new queue: the old token goes stale
		if !m.qOpen {
			m.stale = append(m.stale, m.q.Token())
			m.close1()
			m.open()
		}
	case 5: // wrong lengths, a NULL message, token 0
		v := uint64(1)
		bad := fq.CodeInval
		if !m.qOpen {
			bad = fq.CodeClosed // checked first: a closed queue refuses everything
		}
		m.want(i, "short post", cthreads.Post(tok, unsafe.Pointer(&v), 7), bad)
		m.want(i, "long post", cthreads.Post(tok, unsafe.Pointer(&v), 9), bad)
		m.want(i, "NULL post", cthreads.Post(tok, nil, 8), fq.CodeInval)
		m.want(i, "token 0", cthreads.Post(0, unsafe.Pointer(&v), 8), fq.CodeInval)
	case 6: // stale tokens are refused and touch nothing
		v := uint64(1)
		for _, s := range m.stale {
			m.want(i, "stale post", cthreads.Post(uintptr(s), unsafe.Pointer(&v), 8), fq.CodeClosed)
			m.want(i, "stale release", cthreads.Release(uintptr(s)), fq.CodeClosed)
		}
	case 7: // a random token: refused, never a crash
		v := uint64(1)
		r := uintptr(m.seq*0x9e3779b97f4a7c15) | 1<<20
		if got := cthreads.Post(r, unsafe.Pointer(&v), 8); got == 0 && r != tok {
			m.t.Errorf("step %d: a random token %#x was accepted", i, r)
		}
	case 8: // C references: acquire, or release (one without an acquire is refused)
		if (op/14)%2 == 0 {
			want := 0
			if !m.qOpen {
				want = fq.CodeClosed
			}
			got := cthreads.Acquire(tok)
			m.want(i, "acquire", got, want)
			if got == 0 {
				m.cRefs++
			}
		} else {
			want := fq.CodeInval // no C reference to drop
			switch {
			case m.cRefs > 0:
				want = 0
			case !m.qOpen:
				want = fq.CodeClosed
			}
			m.want(i, "release", cthreads.Release(tok), want)
			if want == 0 {
				m.cRefs--
			}
		}
	case 9: // a signal from C: the latest value wins
		m.seq++
		v := int(m.seq)
		m.want(i, "signal", cthreads.Signal(uintptr(m.i.Token()), v), 0)
		m.pend = &v
	case 10: // take the interrupt's signal
		v, ok := m.i.Take()
		switch {
		case m.pend == nil && ok:
			m.t.Errorf("step %d: took %d, none pending", i, v)
		case m.pend != nil && (!ok || v != *m.pend):
			m.t.Errorf("step %d: took %d %v, want %d", i, v, ok, *m.pend)
		}
		m.pend = nil
	case 11: // a call, from Go and from C
		m.seq++
		if r, err := m.f.Call(context.Background(), m.seq); r != m.seq*7+1 || err != nil {
			m.t.Errorf("step %d: Call(%d) = %d, %v", i, m.seq, r, err)
		}
		x := m.seq + 1
		var ret uint64
		m.want(i, "foreign_call", cthreads.Call(uintptr(m.f.Token()), unsafe.Pointer(&x), 8, unsafe.Pointer(&ret), 8, -1), 0)
		if ret != x*7+1 {
			m.t.Errorf("step %d: foreign_call(%d) = %d", i, x, ret)
		}
		m.want(i, "foreign_call, short result", cthreads.Call(uintptr(m.f.Token()), unsafe.Pointer(&x), 8, unsafe.Pointer(&ret), 4, -1), fq.CodeInval)
		m.want(i, "call to a queue", cthreads.Call(tok, unsafe.Pointer(&x), 8, unsafe.Pointer(&ret), 8, -1), fq.CodeInval)
	case 12: // a notifier's trigger, and a post to it with a payload
		m.want(i, "trigger", Code(m.n.Trigger()), 0)
		v := uint64(1)
		m.want(i, "payload to a notifier", cthreads.Post(uintptr(m.n.Token()), unsafe.Pointer(&v), 8), fq.CodeInval)
	case 13: // a signal to the queue, a trigger of the interrupt: wrong kinds
		m.want(i, "signal to a queue", cthreads.Signal(tok, 1), fq.CodeInval)
		m.want(i, "post to an interrupt", cthreads.Post(uintptr(m.i.Token()), nil, 0), fq.CodeInval)
	}
}

// close1 drops the current queue for good (its C references too).
func (m *abiModel) close1() {
	for m.cRefs > 0 {
		cthreads.Release(uintptr(m.q.Token()))
		m.cRefs--
	}
	m.q.Close()
	var buf [abiCap]uint64
	for m.q.tryRecv(buf[:]) > 0 {
	}
	m.q.Close() // frees it now that it is drained
}
