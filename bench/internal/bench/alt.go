package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/foreigncall/foreign"
)

// altConsumer is the Go side of the strategies that are not this library:
// what a Go programmer would write around an eventfd, a pipe, a coalescing
// wake-up, a mutex + condvar queue, or a request/reply handshake. Each runs
// on a goroutine of its own, as the foreign queue's consumer does.
type altConsumer struct {
	chk    *checker
	target uintptr // what the C threads pass to their call

	// seen counts the values an Async consumer took (the rest were
	// overwritten); nil for the others.
	seen  *atomic.Uint64
	async cAsync

	stop func() // makes the goroutine return (after a drain, where one is owed)
	done chan struct{}
	free func()
}

// close stops the consumer and frees its C state. No C thread may call
// into it any more.
func (a *altConsumer) close() error {
	a.stop()
	<-a.done
	if a.free != nil {
		a.free()
	}
	return nil
}

// startAlt starts strategy s's Go consumer for producers C threads sending
// total messages (0: unbounded).
func startAlt(s Strategy, producers int, total uint64, capacity int) (*altConsumer, error) {
	return startAltWith(s, producers, total, capacity, nil)
}

// startAltWith is startAlt with the pipe reader's handler given (wakePipe).
func startAltWith(s Strategy, producers int, total uint64, capacity int, h func(msg)) (*altConsumer, error) {
	a := &altConsumer{chk: newChecker(producers, total, true), done: make(chan struct{})}
	switch s {
	case EventFD:
		// A goroutine reads the eventfd through Go's poller; each read
		// returns and resets the counter, so it counts events but cannot
		// carry them: it is the wake-up alone.
		fd, err := newEventfd()
		if err != nil {
			return nil, fmt.Errorf("bench: eventfd: %w", err)
		}
		f := os.NewFile(uintptr(fd), "eventfd")
		a.target = uintptr(fd)
		go func() {
			defer close(a.done)
			var b [8]byte
			for {
				if _, err := f.Read(b[:]); err != nil {
					return
				}
				a.chk.count(binary.NativeEndian.Uint64(b[:]))
			}
		}()
		a.stop = func() { f.Close() }
	case Pipe, wakePipe:
		// The write end blocks when the pipe is full, as a plain write()
		// does; the read end is non-blocking so that Go's poller parks the
		// reading goroutine.
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			return nil, fmt.Errorf("bench: pipe: %w", err)
		}
		if err := syscall.SetNonblock(p[0], true); err != nil {
			syscall.Close(p[0])
			syscall.Close(p[1])
			return nil, fmt.Errorf("bench: pipe: %w", err)
		}
		f := os.NewFile(uintptr(p[0]), "pipe")
		a.target = uintptr(p[1])
		handle := a.chk.consume
		if h != nil {
			handle = h
		}
		go func() {
			defer close(a.done)
			defer f.Close()
			readMsgs(f, handle)
		}()
		// Closing the write end lets the reader drain to EOF.
		a.stop = func() { syscall.Close(p[1]) }
	case Async:
		fd, err := newEventfd()
		if err != nil {
			return nil, fmt.Errorf("bench: eventfd: %w", err)
		}
		f := os.NewFile(uintptr(fd), "async")
		as, err := newCAsync(fd)
		if err != nil {
			f.Close()
			return nil, err
		}
		a.async = as
		a.target = as.target()
		a.seen = new(atomic.Uint64)
		go func() {
			defer close(a.done)
			var b [8]byte
			var last uint64
			for {
				if _, err := f.Read(b[:]); err != nil {
					return
				}
				// Only the latest value is there to process.
				if v := as.take(); v != last {
					last = v
					a.seen.Add(1)
					a.chk.got.Store(v)
				}
			}
		}()
		a.stop = func() { f.Close() }
		a.free = as.free
	case CondVar:
		q, err := newCCondQueue(capacity)
		if err != nil {
			return nil, err
		}
		a.target = q.target()
		// The goroutine blocks in a cgo call while the queue is empty, so
		// it holds an OS thread: what a Go consumer of a C condvar does.
		go func() {
			defer close(a.done)
			for {
				ms := q.pop()
				if ms == nil {
					return
				}
				for _, m := range ms {
					a.chk.consume(m)
				}
			}
		}()
		a.stop = q.close
		a.free = q.free
	case CallForeign:
		f, err := foreign.NewFunc(func(x uint64) uint64 { return x + 1 }, foreign.FuncConfig{Capacity: capacity, Name: "bench"})
		if err != nil {
			return nil, err
		}
		a.chk = nil
		a.target = uintptr(f.Token())
		close(a.done)
		a.stop = func() { f.Close() }
	case CallCond:
		r, err := newCRPC()
		if err != nil {
			return nil, err
		}
		a.chk = nil
		a.target = r.target()
		go func() {
			defer close(a.done)
			var ret uint64
			for first := true; ; first = false {
				arg, ok := r.serve(first, ret)
				if !ok {
					return
				}
				ret = arg + 1
			}
		}()
		a.stop = r.close
		a.free = r.free
	default:
		return nil, fmt.Errorf("bench: %q has no alternative consumer", s)
	}
	return a, nil
}

// readMsgs reads whole messages from r until it fails or ends.
func readMsgs(r io.Reader, handle func(msg)) {
	const size = 16
	buf := make([]byte, 256*size)
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		whole := have - have%size
		for i := 0; i < whole; i += size {
			handle(msg{
				Seq:      binary.NativeEndian.Uint64(buf[i:]),
				Producer: binary.NativeEndian.Uint32(buf[i+8:]),
				Spare:    binary.NativeEndian.Uint32(buf[i+12:]),
			})
		}
		have = copy(buf, buf[whole:have])
		if err != nil {
			return
		}
	}
}

// waitAsync waits until the producers are done and the consumer has taken
// the last value stored.
func (a *altConsumer) waitAsync(t cTput, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if t.failed() {
			return false
		}
		if t.producersDone() && a.chk.got.Load() == a.async.latest() {
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

// measureGoPost is the ForeignGo throughput: goroutines post with q.Post,
// yielding when the queue is full.
func measureGoPost(cfg ThroughputConfig, total uint64) (ThroughputResult, error) {
	res := ThroughputResult{Strategy: ForeignGo, Producers: cfg.Producers}
	chk := newChecker(cfg.Producers, total, false)
	q, err := newForeignQueue(chk, cfg.Capacity)
	if err != nil {
		return res, err
	}
	var (
		retries atomic.Uint64
		wg      sync.WaitGroup
		gate    = make(chan struct{})
	)
	for p := range cfg.Producers {
		wg.Go(func() {
			<-gate
			var r uint64
			for i := range cfg.Messages {
				m := msg{Seq: uint64(i), Producer: uint32(p)}
				for q.Post(m) != nil {
					r++
					runtime.Gosched()
				}
			}
			retries.Add(r)
		})
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := nowNs()
	close(gate)
	wg.Wait()
	var done bool
	select {
	case <-chk.done:
		done = true
	case <-time.After(cfg.Timeout):
	}
	runtime.ReadMemStats(&ms1)
	cerr := q.Close()
	res.Retries = retries.Load()
	res.Mallocs = ms1.Mallocs - ms0.Mallocs
	res.Wakeups = q.Stats().Wakeups
	res.Messages = chk.n
	res.Elapsed = time.Duration(chk.endNs - start)
	switch {
	case !done:
		return res, fmt.Errorf("bench: %s: consumer received %d of %d messages", ForeignGo, chk.n, total)
	case chk.bad.Load() != 0:
		return res, fmt.Errorf("bench: %s: %d messages out of order", ForeignGo, chk.bad.Load())
	}
	return res, cerr
}

// count is consume for a consumer that learns only how many events came
// (an eventfd), not which.
func (c *checker) count(k uint64) {
	c.n += k
	if c.publish {
		c.got.Store(c.n)
	}
	if c.n == c.total && c.total != 0 {
		c.endNs = nowNs()
		close(c.done)
	}
}

// ---- Wake-up latency ----

// wakePipe is the pipe strategy carrying send times (wake-up latency).
const wakePipe Strategy = "wake-pipe"

// WakeStrategies are the strategies [MeasureWake] runs.
var WakeStrategies = []Strategy{Foreign, Pipe}

// wakeMsg mirrors wake_msg in alt.c.
type wakeMsg struct {
	Seq   uint64
	Ticks uint64
}

// WakeConfig configures [MeasureWake].
type WakeConfig struct {
	Strategy Strategy      // Foreign or Pipe
	Events   int           // timed events; 0 means 1000
	Gap      time.Duration // between events, so the consumer parks; 0 means 200 µs
}

// MeasureWake measures wake-up latency: a C thread posts every Gap, long
// enough for the consumer to park, and the time runs from just before the
// post (stamped in C into the message) to the start of the Go handler,
// which reads the same clock through a cgo call. Half the median cost of
// such a cgo call from Go (the part before the clock read), measured here
// first, is subtracted from every sample.
func MeasureWake(cfg WakeConfig) (LatencyResult, []float64, error) {
	if cfg.Events <= 0 {
		cfg.Events = 1000
	}
	if cfg.Gap <= 0 {
		cfg.Gap = 200 * time.Microsecond
	}
	res := LatencyResult{Strategy: cfg.Strategy}
	ticks := make([]uint64, 0, cfg.Events+64)
	var bad atomic.Uint64
	var got atomic.Uint64
	var next uint64
	const warmup = 16
	// The library's histogram once the warm-up is in it, so that the
	// library's figures, as the harness's, leave it out.
	var libWarm func() *foreign.Histogram
	var warm *foreign.Histogram
	handle := func(w wakeMsg) {
		now := nowTicks()
		if w.Seq != next {
			bad.Add(1)
		}
		next = w.Seq + 1
		ticks = append(ticks, now-w.Ticks)
		if w.Seq == warmup-1 && libWarm != nil {
			warm = libWarm() // this message's wait is recorded before its handler runs
		}
		got.Store(next)
	}
	var (
		target  uintptr
		kind    int
		closeFn func() error
	)
	switch cfg.Strategy {
	case Foreign:
		q, err := foreign.NewQueue(handle, foreign.QueueConfig{Capacity: 1024, Name: "bench-wake", Latency: true})
		if err != nil {
			return res, nil, err
		}
		target, kind = uintptr(q.Token()), kindWake
		libWarm = func() *foreign.Histogram { return q.Latency().Queued }
		closeFn = func() error {
			err := q.Close()
			res.Library = q.Latency().Queued
			if warm != nil {
				res.Library.Sub(warm)
			}
			return err
		}
	case Pipe:
		a, err := startAltWith(wakePipe, 1, 0, 0, func(m msg) {
			handle(wakeMsg{Seq: m.Seq, Ticks: uint64(m.Producer) | uint64(m.Spare)<<32})
		})
		if err != nil {
			return res, nil, err
		}
		target, kind, closeFn = a.target, kindWakePipe, a.close
	default:
		return res, nil, fmt.Errorf("bench: %q is not a wake strategy", cfg.Strategy)
	}
	cost := cgoClockCost()
	p, err := newCProber(kind, target, cfg.Events)
	if err != nil {
		closeFn()
		return res, nil, err
	}
	b, err := p.run(warmup, cfg.Events, float64(cfg.Gap.Nanoseconds()), false)
	if err == nil && b.failed > 0 {
		err = fmt.Errorf("bench: wake %s: %s", cfg.Strategy, strerror(b.lastCode))
	}
	deadline := time.Now().Add(10 * time.Second)
	for err == nil && got.Load() < b.accepted {
		if time.Now().After(deadline) {
			err = errors.New("bench: wake: consumer fell behind")
		}
		time.Sleep(100 * time.Microsecond)
	}
	p.free()
	cerr := closeFn() // after this the handler has stopped: ticks is ours
	if err == nil {
		err = cerr
	}
	if err == nil && bad.Load() > 0 {
		err = fmt.Errorf("bench: wake %s: %d messages out of order", cfg.Strategy, bad.Load())
	}
	if len(ticks) > warmup {
		ticks = ticks[warmup:]
	}
	res.Accepted = b.accepted
	res.Delivered = got.Load()
	summarize(&res, ticks, nsPerTick(), cost)
	return res, toNs(ticks, nsPerTick(), cost), err
}

// cgoClockCost is half the median time between two clock reads made by
// consecutive cgo calls from Go: about what a handler's cgo call adds
// before its clock read.
func cgoClockCost() float64 {
	const n = 2001
	d := make([]uint64, n)
	for i := range d {
		a := nowTicks()
		b := nowTicks()
		d[i] = b - a
	}
	var r LatencyResult
	summarize(&r, d, nsPerTick(), 0)
	return r.P50 / 2
}

// ---- A fresh thread per event ----

// FreshStrategies are what [MeasureFresh] does on each fresh thread:
// nothing (the floor), a foreign_post, an //export call.
var FreshStrategies = []Strategy{Noop, Foreign, Export}

// MeasureFresh creates and joins a thread per event, n times after an
// untimed warm-up of n/10, with the thread doing what s says; the samples
// span create to join.
func MeasureFresh(s Strategy, n int) (LatencyResult, []float64, error) {
	res := LatencyResult{Strategy: s}
	var target uintptr
	var kind int
	switch s {
	case Noop:
		kind = kindNoop
	case Export:
		kind = kindExport
	case Foreign:
		kind = kindForeign
		chk := newChecker(1, 0, true)
		q, err := newForeignQueue(chk, 1024)
		if err != nil {
			return res, nil, err
		}
		defer q.Close()
		target = uintptr(q.Token())
	default:
		return res, nil, fmt.Errorf("bench: %q is not a fresh-thread strategy", s)
	}
	// Every strategy alike with one other thread awake on a second CPU:
	// for foreign its consumer, which spins while the events come close
	// together (as they do here), for the others a C thread that spins
	// (bh_spinner). Without it the floor would run with the second CPU
	// idle and slower to wake, and foreign would look better than the
	// floor itself.
	stop := func() {}
	if s != Foreign {
		var err error
		if stop, err = startSpinner(); err != nil {
			return res, nil, err
		}
	}
	ticks := make([]uint64, n)
	rc := fresh(kind, target, ticks)
	stop()
	if rc != 0 {
		return res, nil, fmt.Errorf("bench: fresh %s: %s", s, strerror(rc))
	}
	res.Accepted = uint64(n)
	summarize(&res, ticks, nsPerTick(), 0)
	return res, toNs(ticks, nsPerTick(), 0), nil
}
