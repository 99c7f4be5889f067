package foreign

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// A Loop serves many handles — queues, functions, notifiers, interrupts —
// on one goroutine, the one that calls Run, in the order they became ready.
// Their handlers therefore never run concurrently with each other, and all
// run on Run's goroutine: call Run on a goroutine locked to the main OS
// thread (runtime.LockOSThread in an init function, then Run from main) and
// every handler runs on the main thread, as GUI and graphics libraries
// require. Put a handle on a Loop with Config.Loop.
//
// Producers do not wake a Loop per message: a handle is put on the Loop's
// ready queue once when it gets work, and stays off it while it is queued
// (ring.h, "Loops").
type Loop struct {
	ready *Queue[uint64] // ids of handles with work, each at most once

	mu      sync.Mutex
	handles map[uint64]*loopEntry
	max     int

	ids  atomic.Uint64
	refs atomic.Int64 // referenced handles
	run  atomic.Uint64
}

type loopEntry struct {
	h   handle
	ref bool
}

// LoopConfig configures a Loop. The zero value is ready to use.
type LoopConfig struct {
	// MaxHandles bounds the handles open on the Loop at once. Zero means
	// 4096.
	MaxHandles int
}

// NewLoop returns a Loop. Handles join it when made with Config.Loop.
func NewLoop(cfg LoopConfig) (*Loop, error) {
	max := cfg.MaxHandles
	if max == 0 {
		max = 4096
	}
	if max < 0 || max > maxCapacity/2 {
		return nil, fmt.Errorf("foreign: MaxHandles %d out of range", max)
	}
	// Room for every handle once, plus wake-ups of Run (id 0).
	ready, err := NewQueue[uint64](nil, Config{Capacity: max + 64})
	if err != nil {
		return nil, err
	}
	return &Loop{ready: ready, handles: map[uint64]*loopEntry{}, max: max}, nil
}

func (l *Loop) nextID() uint64 { return l.ids.Add(1) }

func (l *Loop) attach(id uint64, h handle) {
	l.mu.Lock()
	l.handles[id] = &loopEntry{h: h, ref: true}
	l.mu.Unlock()
	l.refs.Add(1)
	// Work may have arrived before the entry existed; look once.
	if h.work() {
		cNotify(h.core().c)
	}
}

// wakeRun makes Run look at the references again.
func (l *Loop) wakeRun() { _ = l.ready.Post(0) }

// setRef marks a handle as keeping Run alive, or not.
func (l *Loop) setRef(id uint64, ref bool) {
	l.mu.Lock()
	e := l.handles[id]
	changed := e != nil && e.ref != ref
	if changed {
		e.ref = ref
	}
	l.mu.Unlock()
	if !changed {
		return
	}
	if ref {
		l.refs.Add(1)
	} else if l.refs.Add(-1) == 0 {
		l.wakeRun()
	}
}

// Run serves the Loop's handles until ctx is done (it returns ctx's error)
// or no referenced handle is left open (it returns nil). Handlers run on
// the calling goroutine. Run must not be called twice at once.
func (l *Loop) Run(ctx context.Context) error {
	if !l.run.CompareAndSwap(0, goid()) {
		return fmt.Errorf("foreign: Loop.Run called twice: %w", ErrInvalid)
	}
	defer l.run.Store(0)
	var ids [maxBatch]uint64
	for l.refs.Load() > 0 {
		n, err := l.ready.RecvBatch(ctx, ids[:])
		if err != nil {
			return err
		}
		for _, id := range ids[:n] {
			if id != 0 {
				l.serve(id)
			}
		}
	}
	return nil
}

// serve gives one ready handle a batch, then takes it off the ready queue,
// or puts it at the back if it has more: the Loop's side of the scheduling
// protocol (ring.h, "Loops").
func (l *Loop) serve(id uint64) {
	l.mu.Lock()
	e := l.handles[id]
	l.mu.Unlock()
	if e == nil {
		return
	}
	h := e.h
	h.serve()
	if h.drained() {
		l.mu.Lock()
		delete(l.handles, id)
		l.mu.Unlock()
		h.finish()
		if e.ref && l.refs.Add(-1) == 0 {
			l.wakeRun()
		}
		return
	}
	c := h.core().c
	c.scheduled.Store(0) // then look for work: pairs with the producers' claim, then load
	if h.work() && c.scheduled.CompareAndSwap(0, 1) {
		_ = l.ready.Post(id)
	}
}

// Close releases the Loop. Close its handles first: their later posts
// would find no Loop to wake.
func (l *Loop) Close() error { return l.ready.Close() }

// Ref makes the handle keep its Loop's Run going (the default); Unref lets
// Run return while the handle is still open. Without a Loop they do nothing.
func (q *Queue[T]) Ref() { q.r.setRef(true) }

// Unref: see Ref.
func (q *Queue[T]) Unref() { q.r.setRef(false) }
