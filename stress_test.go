package foreign

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// 4 pthreads x 1M messages through a small ring: every message arrives once,
// in order per producer. Variants cover the pipe fallback and positions that
// wrap around 2^44 during the run.
func TestStressCThreads(t *testing.T) {
	cases := []struct {
		name      string
		cfg       QueueConfig
		hooks     hooks
		threads   int
		perThread uint64
	}{
		{"eventfd", QueueConfig{Capacity: 1024}, hooks{}, 4, 1_000_000},
		{"pipe", QueueConfig{Capacity: 256}, hooks{pipe: true}, 4, 200_000},
		{"wrap", QueueConfig{Capacity: 64}, hooks{start: 1<<posBits - 100_000}, 4, 100_000},
		{"capacity1", QueueConfig{Capacity: 1}, hooks{}, 2, 20_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.perThread > 200_000 {
				tc.perThread = 200_000
			}
			chk := newSeqChecker()
			var q *Queue[cthreads.Msg]
			var err error
			withHooks(tc.hooks, func() { q, err = NewQueue(chk.see, tc.cfg) })
			if err != nil {
				t.Fatal(err)
			}
			p := cthreads.Start(uintptr(q.Token()), tc.threads, 1, tc.perThread, false)
			accepted, full, err := p.Wait()
			if err != nil {
				t.Fatal(err)
			}
			q.Close()
			chk.check(t, 1, accepted)
			st := q.Stats()
			total := uint64(tc.threads) * tc.perThread
			if st.Posted != total || st.Delivered != total || chk.n != total {
				t.Errorf("posted %d delivered %d handled %d, want %d", st.Posted, st.Delivered, chk.n, total)
			}
			if st.RejectedFull != full {
				t.Errorf("RejectedFull = %d, producers retried %d times", st.RejectedFull, full)
			}
			if st.HighWater == 0 || st.HighWater > uint64(st.Capacity) {
				t.Errorf("HighWater = %d, capacity %d", st.HighWater, st.Capacity)
			}
			t.Logf("%+v", st)
		})
	}
}

// Goroutines post with Post (no cgo call); the same guarantees hold.
func TestStressGoroutines(t *testing.T) {
	const producers, per = 8, 100_000
	chk := newSeqChecker()
	q, err := NewQueue(chk.see, QueueConfig{Capacity: 128})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := uint64(0); i < per; {
				switch err := q.Post(cthreads.Msg{Producer: uint32(p), Seq: i}); err {
				case nil:
					i++
				case ErrFull:
					time.Sleep(time.Microsecond)
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	q.Close()
	accepted := make([]uint64, producers)
	for i := range accepted {
		accepted[i] = per
	}
	chk.check(t, 0, accepted)
}

// C threads and goroutines post into the same queue at once.
func TestStressMixed(t *testing.T) {
	chk := newSeqChecker()
	q, err := NewQueue(chk.see, QueueConfig{Capacity: 256})
	if err != nil {
		t.Fatal(err)
	}
	p := cthreads.Start(uintptr(q.Token()), 2, 0, 200_000, false)
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := uint64(0); i < 200_000; {
				if q.Post(cthreads.Msg{Producer: uint32(2 + g), Seq: i}) == nil {
					i++
				}
			}
		})
	}
	acc, _, err := p.Wait()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	chk.check(t, 0, append(acc, 200_000, 200_000))
}

// A signal storm: a producer thread posts in a loop while timers interrupt
// it (and any other thread) with SIGUSR1, whose handler posts as well — also
// in the middle of the same thread's own foreign_post. Everything accepted
// is delivered; the thread's and its handler's messages stay in order.
func TestSignalStorm(t *testing.T) {
	chk := newSeqChecker()
	procSeen := map[uint64]bool{}
	var dups int
	const producer = 10
	q, err := NewQueue(func(m cthreads.Msg) {
		if m.Producer == producer+2 { // numbers unique, gaps allowed
			if procSeen[m.Seq] {
				dups++
			}
			procSeen[m.Seq] = true
			return
		}
		chk.see(m)
	}, QueueConfig{Capacity: 4096})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cthreads.SignalStorm(uintptr(q.Token()), producer, 20*time.Microsecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	chk.check(t, producer, []uint64{res.LoopAccepted, res.DirectAccepted})
	if uint64(len(procSeen)) != res.ProcAccepted || dups != 0 {
		t.Errorf("process-wide handler: delivered %d (dups %d), accepted %d", len(procSeen), dups, res.ProcAccepted)
	}
	if res.DirectRuns < 100 || res.DirectAccepted == 0 {
		t.Errorf("too few signals to call it a storm: %+v", res)
	}
	t.Logf("%+v stats %+v", res, q.Stats())
}

// A brand-new thread for every post.
func TestFreshThreadPerPost(t *testing.T) {
	chk := newSeqChecker()
	q, err := NewQueue(chk.see, QueueConfig{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	got, err := cthreads.FreshThreads(uintptr(q.Token()), 7, n)
	if err != nil || got != n {
		t.Fatalf("accepted %d of %d: %v", got, n, err)
	}
	q.Close()
	chk.check(t, 7, []uint64{n})
}

// Close races four producer threads, many times, and the control blocks get
// reused under them. Whatever a thread saw accepted is delivered, in order,
// before Close returns; everything after is ECLOSED; nothing crashes.
func TestCloseRacesProducers(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	for round := range rounds {
		chk := newSeqChecker()
		var q *Queue[cthreads.Msg]
		var err error
		withHooks(hooks{pipe: round%4 == 3}, func() { q, err = NewQueue(chk.see, QueueConfig{Capacity: 64}) })
		if err != nil {
			t.Fatal(err)
		}
		p := cthreads.Start(uintptr(q.Token()), 4, 0, 0, true)
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		q.Close()
		accepted, _, err := p.Wait()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		chk.check(t, 0, accepted)
		st := q.Stats()
		if st.Delivered != sum(accepted) || st.Posted != st.Delivered {
			t.Fatalf("round %d: accepted %d, %+v", round, sum(accepted), st)
		}
		if st.RejectedClosed < 4 {
			t.Fatalf("round %d: each thread should have seen ECLOSED: %+v", round, st)
		}
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}
