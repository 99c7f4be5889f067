// loop.go: Loop, one goroutine serving many handles.

package foreign

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// A Loop serves many handles — queues, functions, notifiers, interrupts —
// on one goroutine, the one that calls Run, in the order they became ready.
// Their handlers therefore never run concurrently with each other, and all
// run on Run's goroutine: call Run on a goroutine locked to the main OS
// thread (runtime.LockOSThread in an init function, then Run from main) and
// every handler runs on the main thread, as GUI and graphics libraries
// require. Put a handle on a Loop with the Loop field of its config.
//
// Producers do not wake a Loop per message: a handle is put on the Loop's
// ready queue once when it gets work, and stays off it while it is queued
// (block.h, "Loops"). The ready queue has room for every handle the Loop
// admits (MaxHandles), so no schedule is ever dropped.
//
// A handler on a Loop that would wait for the Loop — a call into a Func on
// the same Loop, a PostWait into a full queue on it, from Go or through C —
// fails at once with ErrDeadlock (FOREIGN_EDEADLK) instead of hanging.
//
// A handler that calls runtime.Goexit (as t.FailNow does) ends the
// goroutine serving the Loop: Run's, which then does not return to its
// caller, or a Close's serving it inline. The handles are served on by
// whoever serves the Loop next (Run again, or a Close).
type Loop struct {
	// ready holds the ids of handles with work, each at most once; 0 wakes
	// Run. Its token names the Loop as the server of every handle on it
	// (block.h, "Serving") and is never handed out: a post into the ready
	// queue from outside would take the room its handles' schedules need.
	ready *PullQueue[uint64]

	mu       sync.Mutex
	handles  map[uint64]*loopEntry
	reserved int // handles opened or opening and not yet finished, at most max
	max      int
	closed   bool // by Close: no handle joins any more, and every one is closed

	finishOnce sync.Once
	finished   chan struct{} // closed when Close is complete: no handle left, ready queue closed

	// dispatch is held while handlers run: by Run for each batch, or by a
	// Close that serves the Loop itself because Run is not running.
	dispatch sync.Mutex
	runMu    sync.Mutex
	running  chan struct{} // non-nil while Run runs; closed when it returns

	ids     atomic.Uint64
	refs    atomic.Int64 // referenced handles
	wakeSet atomic.Bool  // an id 0 is in the ready queue
}

type loopEntry struct {
	h   handle
	ref bool
}

// LoopConfig configures a Loop. The zero value is ready to use.
type LoopConfig struct {
	// MaxHandles bounds the handles open on the Loop at once; making one
	// more fails with an error. Zero means 4096.
	MaxHandles int
}

// NewLoop returns a Loop. Handles join it when made with their config's
// Loop field set.
func NewLoop(cfg LoopConfig) (*Loop, error) {
	max := cfg.MaxHandles
	if max == 0 {
		max = 4096
	}
	if max < 0 || max >= fq.MaxCapacity/2 {
		return nil, fmt.Errorf("foreign: MaxHandles %d out of range [0, %d): %w", max, fq.MaxCapacity/2, ErrInvalid)
	}
	// Room for every handle once and one wake-up of Run (id 0), and one
	// to spare.
	ready, err := NewPullQueue[uint64](PullConfig{Capacity: max + 2})
	if err != nil {
		return nil, err
	}
	return &Loop{ready: ready, handles: map[uint64]*loopEntry{}, max: max, finished: make(chan struct{})}, nil
}

// reserve admits one more handle, or refuses it: the Loop is closed, or
// has MaxHandles handles.
func (l *Loop) reserve() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return 0, fmt.Errorf("foreign: Loop is closed: %w", ErrClosed)
	case l.reserved >= l.max:
		return 0, fmt.Errorf("foreign: Loop has MaxHandles (%d) handles: %w", l.max, ErrFull)
	}
	l.reserved++
	return l.ids.Add(1), nil
}

func (l *Loop) unreserve() {
	l.mu.Lock()
	l.reserved--
	l.mu.Unlock()
}

func (l *Loop) attach(id uint64, h handle) {
	l.mu.Lock()
	l.handles[id] = &loopEntry{h: h, ref: true}
	closed := l.closed // Close ran between reserve and now
	l.mu.Unlock()
	l.refs.Add(1)
	if closed {
		h.base().closeIntake()
	}
	// Work may have arrived before the entry existed: schedule the handle
	// once (at worst the Loop finds nothing). Asking h.work() here would
	// read the consumer's own state from this goroutine.
	h.base().h.Kick()
}

// wakeRun makes Run look at the references again. At most one wake-up is
// queued at a time, so they cannot fill the ready queue.
func (l *Loop) wakeRun() {
	if l.wakeSet.CompareAndSwap(false, true) {
		_ = l.ready.Post(0)
	}
}

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
// or no referenced handle is left open (it returns nil). Once Close has
// closed the Loop, Run serves until every handle on it has delivered what
// it accepted, referenced or not, then returns nil. Handlers run on the
// calling goroutine. Run must not be called twice at once (ErrInvalid),
// nor once the Loop is closed and finished (ErrClosed).
func (l *Loop) Run(ctx context.Context) error {
	l.runMu.Lock()
	switch {
	case l.running != nil:
		l.runMu.Unlock()
		return fmt.Errorf("foreign: Loop.Run called twice: %w", ErrInvalid)
	case l.isFinished():
		l.runMu.Unlock()
		return fmt.Errorf("foreign: Loop.Run after Close: %w", ErrClosed)
	}
	exit := make(chan struct{})
	l.running = exit
	l.runMu.Unlock()
	defer func() {
		l.runMu.Lock()
		l.running = nil
		close(exit)
		l.runMu.Unlock()
	}()
	var ids [maxBatch]uint64
	for l.refs.Load() > 0 || l.closing() {
		n, err := l.ready.RecvBatch(ctx, ids[:])
		if errors.Is(err, ErrClosed) && l.isFinished() {
			return nil
		}
		if err != nil {
			return err
		}
		l.dispatch.Lock()
		l.serveIDs(ids[:n])
	}
	return nil
}

// serveIDs serves a batch of ready ids; the caller holds dispatch, and
// serveIDs releases it. A handler that ends the goroutine with
// runtime.Goexit (as t.FailNow does) leaves the ids it had not reached,
// its own included, back on the ready queue for whoever serves next.
func (l *Loop) serveIDs(ids []uint64) {
	i := 0
	defer func() {
		for _, id := range ids[i:] {
			if id == 0 || l.has(id) { // not one that has just finished
				_ = l.ready.Post(id) // they were on it: there is room
			}
		}
		l.dispatch.Unlock()
	}()
	for ; i < len(ids); i++ {
		if ids[i] == 0 {
			l.wakeSet.Store(false) // then Run reads refs again
			continue
		}
		l.serve(ids[i])
	}
}

// serve gives one ready handle a batch, then takes it off the ready queue,
// or puts it at the back if it has more: the Loop's side of the scheduling
// protocol (block.h, "Loops").
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
		// Off the Loop before the teardown, and counted after it even if
		// OnClose ends the goroutine: an id of it still queued, or put back
		// by serveIDs, then finds no entry. scheduled stays set: a late
		// notify cannot queue a finished handle.
		l.mu.Lock()
		delete(l.handles, id)
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.reserved--
			l.mu.Unlock()
			if e.ref && l.refs.Add(-1) == 0 {
				l.wakeRun()
			}
			l.finishIfDone()
		}()
		h.finish()
		return
	}
	fh := h.base().h
	fh.Unschedule() // then look for work: pairs with the producers' claim, then load
	if h.work() {
		fh.Reschedule() // cannot be full: each handle is queued at most once
	}
}

// waitFor waits until done is closed: a handle of the Loop has been
// delivered and torn down. While Run runs, Run does that; while it does
// not, the caller serves the Loop itself, holding dispatch so that no two
// handlers ever overlap. Once the Loop is closed, a caller serving it goes
// on until every handle is done (Close may have been called from a
// handler, which cannot wait itself).
func (l *Loop) waitFor(done <-chan struct{}) {
	var ids [maxBatch]uint64
	for {
		select {
		case <-done:
			if !l.closing() {
				return
			}
		default:
		}
		l.runMu.Lock()
		exit := l.running
		l.runMu.Unlock()
		if exit != nil {
			select {
			case <-done:
				return // Run serves the rest
			case <-exit: // Run returned: serve the rest here
			}
			continue
		}
		if l.dispatch.TryLock() {
			l.serveIDs(ids[:l.ready.tryRecv(ids[:])])
		}
		runtime.Gosched() // a producer may be between its claim and its publish
	}
}

// closing reports that the Loop is closed and handles are left on it.
func (l *Loop) closing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed && l.reserved > 0
}

func (l *Loop) has(id uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handles[id] != nil
}

func (l *Loop) isFinished() bool {
	select {
	case <-l.finished:
		return true
	default:
		return false
	}
}

// finishIfDone completes a Close once no handle is left: the ready queue
// is emptied of stale wake-ups and closed, and the Loop is finished.
func (l *Loop) finishIfDone() {
	l.mu.Lock()
	done := l.closed && l.reserved == 0
	l.mu.Unlock()
	if !done {
		return
	}
	l.finishOnce.Do(func() {
		var ids [maxBatch]uint64
		for l.ready.tryRecv(ids[:]) > 0 {
		}
		close(l.finished) // before the ready queue: Run, seeing it closed, finds the Loop finished
		_ = l.ready.Close()
	})
}

// closeAll closes every handle on the Loop to new work and returns them;
// none is left open once closed is set (attach closes late joiners).
func (l *Loop) closeAll() []*core {
	l.mu.Lock()
	l.closed = true
	hs := make([]*core, 0, len(l.handles))
	for _, e := range l.handles {
		hs = append(hs, e.h.base())
	}
	l.mu.Unlock()
	for _, h := range hs {
		h.closeIntake()
	}
	return hs
}

// Close closes every handle on the Loop (their later posts, calls and
// triggers fail with ErrClosed), delivers what they accepted and runs
// their OnClose hooks, then releases the Loop: Run returns nil, and
// handles can no longer join it. When Close returns all of that is done
// (a second Close waits for the first); while Run is not running Close
// serves the handles itself. Called from inside a handler (on this Loop
// or any other), Close returns at once: whoever serves the Loop (Run, or a
// Close serving it) finishes the delivery.
func (l *Loop) Close() error {
	if fq.ServingAny() { // from a handler: see core.closeWait
		l.closeAll()
		l.wakeRun()
		return nil
	}
	for {
		hs := l.closeAll()
		if len(hs) == 0 && !l.closing() {
			break
		}
		for _, h := range hs {
			l.waitFor(h.done)
		}
		if len(hs) == 0 {
			runtime.Gosched() // a handle between reserve and attach
		}
	}
	l.wakeRun()
	l.finishIfDone()
	<-l.finished
	return nil
}
