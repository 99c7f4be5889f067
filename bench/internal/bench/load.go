package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Load is a background condition to measure under.
type Load string

// The loads.
const (
	// LoadNone: nothing else runs.
	LoadNone Load = "none"
	// LoadGC: goroutines allocate garbage into a live pointer graph flat
	// out while another calls runtime.GC in a loop, so a collection is
	// always under way: write barriers, assists, and stop-the-world pauses.
	LoadGC Load = "gc"
	// LoadBusy: CPU-bound goroutines that never block, by default one per
	// P, so every P is taken.
	LoadBusy Load = "busy"
	// LoadBlockedC: goroutines blocked in a cgo call that does not
	// return until the load stops, by default one per P: a C main loop,
	// a GUI toolkit or an audio library holding Go threads in C.
	LoadBlockedC Load = "blocked-in-c"
)

// Loads are the loads, the quiet one first.
var Loads = []Load{LoadNone, LoadGC, LoadBusy}

// ParseLoad returns the load named s.
func ParseLoad(s string) (Load, error) {
	switch l := Load(s); l {
	case LoadNone, LoadGC, LoadBusy, LoadBlockedC:
		return l, nil
	}
	return "", fmt.Errorf("bench: unknown load %q", s)
}

// StartLoad starts load l and returns a function that stops it and waits
// until its goroutines have exited; stop may be called more than once.
// goroutines is the number of allocating goroutines (LoadGC; 0 means 1) or
// spinning ones (LoadBusy; 0 means GOMAXPROCS).
func StartLoad(l Load, goroutines int) (stop func(), err error) {
	if goroutines < 0 {
		return nil, fmt.Errorf("bench: %d load goroutines", goroutines)
	}
	var (
		quit atomic.Bool
		wg   sync.WaitGroup
	)
	switch l {
	case LoadNone:
	case LoadGC:
		for range max(goroutines, 1) {
			wg.Go(func() { allocate(&quit) })
		}
		wg.Go(func() {
			for !quit.Load() {
				runtime.GC()
			}
		})
	case LoadBusy:
		if goroutines == 0 {
			goroutines = runtime.GOMAXPROCS(0)
		}
		for range goroutines {
			wg.Go(func() { spin(&quit) })
		}
	case LoadBlockedC:
		if goroutines == 0 {
			goroutines = runtime.GOMAXPROCS(0)
		}
		b := newCBlock()
		for range goroutines {
			wg.Go(b.wait)
		}
		b.waitBlocked(goroutines)
		unblock := b.release
		var once sync.Once
		return func() {
			once.Do(func() {
				unblock()
				wg.Wait()
				b.free()
			})
		}, nil
	default:
		return nil, fmt.Errorf("bench: unknown load %q", l)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			quit.Store(true)
			wg.Wait()
		})
	}, nil
}

// node is garbage with a pointer in it, so the collector has a graph to
// mark and not just bytes to sweep.
type node struct {
	next *node
	_    [7]uint64
}

// allocate replaces nodes of a 16 Ki-node live set (1 MiB) and allocates
// byte slices of assorted sizes, until quit.
func allocate(quit *atomic.Bool) {
	const liveLen = 1 << 14
	live := make([]*node, liveLen)
	junk := make([][]byte, 64)
	for i := 0; ; i++ {
		if i%1024 == 0 && quit.Load() {
			return
		}
		live[i%liveLen] = &node{next: live[(i*7)%liveLen]}
		junk[i%len(junk)] = make([]byte, 64+i%2048)
	}
}

// spinSink keeps the spinning loops' results observable, so the compiler
// cannot drop them.
var spinSink atomic.Uint64

// spin computes without blocking until quit. It relies on asynchronous
// preemption to give its P up, as a real CPU-bound goroutine would.
func spin(quit *atomic.Bool) {
	x := uint64(1)
	for !quit.Load() {
		for range 4096 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spinSink.Add(x)
}
