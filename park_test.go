package foreign

import (
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
	"github.com/foreigncall/foreign/internal/fq"
)

// parkModes are the ways a consumer can park (park.go): each test that
// wakes parked consumers runs under all of them, so that both media are
// covered whatever the timing of the machine.
var parkModes = []struct {
	name string
	mode int
}{{"auto", fq.ParkAuto}, {"fd", fq.ParkFd}, {"futex", fq.ParkFutex}}

func withPark(t *testing.T, f func(t *testing.T, mode int)) {
	for _, m := range parkModes {
		t.Run(m.name, func(t *testing.T) {
			old := fq.SetPark(m.mode)
			defer fq.SetPark(old)
			f(t, m.mode)
		})
	}
}

// parkedOn waits until h's consumer is parked, on the medium mode asks for.
func parkedOn(t *testing.T, h *fq.Handle, mode int) {
	t.Helper()
	waitFor(t, "the consumer to park", func() bool {
		if !h.Parked() {
			return false
		}
		switch mode {
		case fq.ParkFd:
			return !h.ParkedOnFutex()
		case fq.ParkFutex:
			return h.ParkedOnFutex() || !fq.FutexParking()
		}
		return true
	})
}

// Every kind of handle is woken from its park, on each medium, by C and
// by Go: the message or call or signal arrives, in order. A lost wake-up
// fails the test by its deadline.
func TestWakeFromEachPark(t *testing.T) {
	withPark(t, func(t *testing.T, mode int) {
		t.Run("queue", func(t *testing.T) {
			got := make(chan int, 1)
			q, err := NewQueue(func(v int) { got <- v }, QueueConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			for i := range 40 {
				parkedOn(t, q.h, mode)
				if i%2 == 0 {
					if err := q.Post(i); err != nil {
						t.Fatal(err)
					}
				} else if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i)); rc != 0 {
					t.Fatal(rc)
				}
				within(t, 10*time.Second, "delivery", func() {
					if v := <-got; v != i {
						t.Errorf("got %d, want %d", v, i)
					}
				})
			}
		})
		t.Run("func", func(t *testing.T) {
			f, err := NewFunc(func(x uint64) uint64 { return x + 1 }, FuncConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for i := range uint64(40) {
				parkedOn(t, f.q.h, mode)
				var r uint64
				if i%2 == 0 {
					r, err = f.Call(context.Background(), i)
				} else if rc := cthreads.Call(uintptr(f.Token()), unsafe.Pointer(&i), 8, unsafe.Pointer(&r), 8, 10*time.Second); rc != 0 {
					err = FromCode(rc)
				}
				if err != nil || r != i+1 {
					t.Fatalf("call %d = %d, %v", i, r, err)
				}
			}
		})
		t.Run("notifier", func(t *testing.T) {
			var runs atomic.Int64
			n, err := NewNotifier(func() { runs.Add(1) }, NotifierConfig{Repeat: true})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			for i := range int64(20) {
				parkedOn(t, n.h, mode)
				if i%2 == 0 {
					err = n.Trigger()
				} else {
					cthreads.TriggerThreads(uintptr(n.Token()), 1, 1, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the notifier to run", func() bool { return runs.Load() == i+1 })
			}
		})
		t.Run("interrupt", func(t *testing.T) {
			got := make(chan int, 1)
			in, err := NewInterrupt(func(v int) { got <- v }, InterruptConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			for i := range 20 {
				parkedOn(t, in.h, mode)
				if rc := cthreads.Signal(uintptr(in.Token()), i+1); rc != 0 {
					t.Fatal(rc)
				}
				within(t, 10*time.Second, "the interrupt", func() {
					if v := <-got; v != i+1 {
						t.Errorf("got %d, want %d", v, i+1)
					}
				})
			}
		})
		t.Run("loop", func(t *testing.T) {
			l, err := NewLoop(LoopConfig{})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan int, 1)
			q, err := NewQueue(func(v int) { got <- v }, QueueConfig{Loop: l})
			if err != nil {
				t.Fatal(err)
			}
			// After the queue: Run returns at once while no handle holds it.
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- l.Run(ctx) }()
			for i := range 20 {
				parkedOn(t, l.ready.h, mode)
				if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i)); rc != 0 {
					t.Fatal(rc)
				}
				within(t, 10*time.Second, "delivery on the Loop", func() {
					if v := <-got; v != i {
						t.Errorf("got %d, want %d", v, i)
					}
				})
			}
			cancel()
			<-ran
			_ = l.Close()
		})
	})
}

// A reader parked in Recv, on either medium, returns when its context
// ends, and the next Recv still gets what is posted.
func TestRecvDeadlineFromEachPark(t *testing.T) {
	withPark(t, func(t *testing.T, mode int) {
		q, err := NewPullQueue[int](PullConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for i := range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			within(t, 10*time.Second, "Recv to give up", func() {
				if _, err := q.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Recv = %v, want DeadlineExceeded", err)
				}
			})
			cancel()
			go func() {
				parkedOn(t, q.h, mode)
				_ = q.Post(i)
			}()
			within(t, 10*time.Second, "Recv", func() {
				if v, err := q.Recv(context.Background()); err != nil || v != i {
					t.Errorf("Recv = %d, %v; want %d", v, err, i)
				}
			})
		}
	})
}

// At most fq.MaxFutexParked consumers park on the futex, each holding an
// OS thread; the others park on the fd, and every one is still woken.
func TestFutexParkedBounded(t *testing.T) {
	old := fq.SetPark(fq.ParkFutex)
	defer fq.SetPark(old)
	const n = fq.MaxFutexParked + 40
	threads := pprof.Lookup("threadcreate").Count()
	var got atomic.Int64
	qs := make([]*Queue[int], n)
	for i := range qs {
		q, err := NewQueue(func(int) { got.Add(1) }, QueueConfig{})
		if err != nil {
			t.Fatal(err)
		}
		qs[i] = q
	}
	waitFor(t, "every consumer to park", func() bool {
		for _, q := range qs {
			if !q.h.Parked() {
				return false
			}
		}
		return true
	})
	if p := fq.FutexParked(); p > fq.MaxFutexParked {
		t.Errorf("%d consumers parked on the futex, bound %d", p, fq.MaxFutexParked)
	}
	// The threads the parked consumers hold: the bound, and a few the
	// runtime starts on its own.
	if d := pprof.Lookup("threadcreate").Count() - threads; d > fq.MaxFutexParked+16 {
		t.Errorf("%d OS threads created for %d parked consumers (bound %d)", d, n, fq.MaxFutexParked)
	}
	for i, q := range qs {
		if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&i), unsafe.Sizeof(i)); rc != 0 {
			t.Fatal(rc)
		}
	}
	waitFor(t, "every message", func() bool { return got.Load() == n })
	for _, q := range qs {
		q.Close()
	}
	if p := fq.FutexParked(); p != 0 {
		t.Errorf("%d consumers still counted on the futex after Close", p)
	}
}

// A consumer parked on the futex wakes in steps only for fq.KeepFor after
// its last event, then sleeps until woken: an idle handle costs no CPU.
func TestParkedConsumerSettles(t *testing.T) {
	if !fq.FutexParking() {
		t.Skip("no futex parking in this build")
	}
	old := fq.SetPark(fq.ParkFutex)
	defer fq.SetPark(old)
	got := make(chan int, 1)
	q, err := NewQueue(func(v int) { got <- v }, QueueConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	parkedOn(t, q.h, fq.ParkFutex)
	time.Sleep(3 * fq.KeepFor)
	n := q.h.FutexSleeps()
	time.Sleep(fq.KeepFor)
	if m := q.h.FutexSleeps(); m != n {
		t.Errorf("the idle consumer slept %d more times in %v, long after its last event", m-n, fq.KeepFor)
	}
	if !q.h.ParkedOnFutex() {
		t.Fatal("not parked on the futex")
	}
	if k := fq.Keepers(); k != 0 {
		t.Errorf("%d consumers still counted as keeping their P long after keepFor", k)
	}
	// And it is still woken at once.
	if err := q.Post(7); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "delivery", func() {
		if v := <-got; v != 7 {
			t.Errorf("got %d", v)
		}
	})
}

// At most GOMAXPROCS-1 parked consumers keep their P (fq's keepFor), so
// that one is always left for the rest of the program: with every P kept,
// its timers and goroutines waited up to 9 ms.
func TestKeepersLeaveAP(t *testing.T) {
	if !fq.FutexParking() {
		t.Skip("no futex parking in this build")
	}
	old := fq.SetPark(fq.ParkFutex)
	defer fq.SetPark(old)
	n := runtime.GOMAXPROCS(0) + 2
	got := make(chan int, n)
	qs := make([]*Queue[int], n)
	for i := range qs {
		q, err := NewQueue(func(v int) { got <- v }, QueueConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		qs[i] = q
	}
	for i, q := range qs {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
		<-got
	}
	for _, q := range qs {
		parkedOn(t, q.h, fq.ParkFutex)
	}
	if k, max := fq.Keepers(), runtime.GOMAXPROCS(0)-1; k > max {
		t.Errorf("%d parked consumers keep their P, at most %d may", k, max)
	}
}
