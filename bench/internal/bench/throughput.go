package bench

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"time"
)

// ThroughputConfig configures [MeasureThroughput]. The zero value runs
// [CRing] with one producer.
type ThroughputConfig struct {
	Strategy Strategy // one of ThroughputStrategies

	// Producers is the number of C producer threads. 0 means 1.
	Producers int

	// Messages is the number each producer sends. 0 means 100,000.
	Messages int

	// Capacity is the ring's capacity or the channel's buffer, rounded up
	// to a power of two as the foreign queue rounds it. 0 means 1024, the
	// foreign queue's default.
	Capacity int

	// Timeout bounds the wait for the consumer. 0 means 60 s.
	Timeout time.Duration
}

// ThroughputResult is what one or more throughput runs did. Results of
// runs with the same configuration add up with Add.
type ThroughputResult struct {
	Strategy  Strategy
	Producers int

	Messages uint64        // received by the consumer, all producers together
	Elapsed  time.Duration // from the first send to the receipt of the last message
	Retries  uint64        // sends refused as full, then retried after a pause
	Wakeups  uint64        // system calls producers made to wake the consumer (foreign, c-ring)
	Mallocs  uint64        // Go heap allocations while the messages flowed
	Lost     uint64        // sent but never seen by the consumer (async coalescing)
}

// EventsPerSec is the consumer's receive rate.
func (r ThroughputResult) EventsPerSec() float64 {
	return float64(r.Messages) / r.Elapsed.Seconds()
}

// NsPerEvent is the time per message, all producers together.
func (r ThroughputResult) NsPerEvent() float64 {
	return float64(r.Elapsed.Nanoseconds()) / float64(r.Messages)
}

// AllocsPerMsg is Go heap allocations per message.
func (r ThroughputResult) AllocsPerMsg() float64 {
	return float64(r.Mallocs) / float64(r.Messages)
}

// Add accumulates another run's counts and time into r.
func (r *ThroughputResult) Add(o ThroughputResult) {
	r.Strategy, r.Producers = o.Strategy, o.Producers
	r.Messages += o.Messages
	r.Elapsed += o.Elapsed
	r.Retries += o.Retries
	r.Wakeups += o.Wakeups
	r.Mallocs += o.Mallocs
	r.Lost += o.Lost
}

// MeasureThroughput runs one throughput run: it starts the consumer and the
// producer threads, lets the producers go, waits until the consumer has
// every message, and checks that none was lost, repeated or reordered.
func MeasureThroughput(cfg ThroughputConfig) (ThroughputResult, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = CRing
	}
	if !slices.Contains(AllThroughputStrategies, cfg.Strategy) {
		return ThroughputResult{}, fmt.Errorf("bench: %q is not a throughput strategy", cfg.Strategy)
	}
	if cfg.Producers < 0 || cfg.Messages < 0 || cfg.Capacity < 0 || cfg.Timeout < 0 {
		return ThroughputResult{}, errors.New("bench: negative throughput setting")
	}
	if cfg.Producers == 0 {
		cfg.Producers = 1
	}
	if cfg.Messages == 0 {
		cfg.Messages = 100_000
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = 1024
	}
	if cfg.Capacity > maxCapacity {
		return ThroughputResult{}, fmt.Errorf("bench: capacity %d over %d", cfg.Capacity, maxCapacity)
	}
	// The C ring takes only powers of two; the others get the same size.
	cfg.Capacity = 1 << bits.Len(uint(cfg.Capacity-1))
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	total := uint64(cfg.Producers) * uint64(cfg.Messages)
	res := ThroughputResult{Strategy: cfg.Strategy, Producers: cfg.Producers}

	// The Go consumers, if any; closeConsumer stops them once no producer
	// can send any more.
	var (
		chk    *checker
		target uintptr
	)
	closeConsumer := func() error { return nil }
	wakeups := func() uint64 { return 0 }
	var alt *altConsumer
	switch cfg.Strategy {
	case ForeignGo:
		return measureGoPost(cfg, total)
	case EventFD, Pipe, Async, CondVar:
		var err error
		if alt, err = startAlt(cfg.Strategy, cfg.Producers, total, cfg.Capacity); err != nil {
			return res, err
		}
		chk, target, closeConsumer = alt.chk, alt.target, alt.close
	case Foreign:
		chk = newChecker(cfg.Producers, total, false)
		q, err := newForeignQueue(chk, cfg.Capacity)
		if err != nil {
			return res, err
		}
		target = uintptr(q.Token())
		closeConsumer = q.Close
		wakeups = func() uint64 { return q.Stats().Wakeups }
	case ExportChan:
		chk = newChecker(cfg.Producers, total, false)
		s, err := newChanSink(chk, cfg.Capacity)
		if err != nil {
			return res, err
		}
		target = uintptr(s.slot)
		closeConsumer = func() error { s.close(); return nil }
	}

	t, err := newCTput(cfg.Strategy.kind(), target, cfg.Producers, cfg.Messages, cfg.Capacity)
	if err != nil {
		_ = closeConsumer()
		return res, fmt.Errorf("bench: start producers: %w", err)
	}
	// Made before the first MemStats read, so as not to count themselves.
	timeout := time.NewTimer(cfg.Timeout)
	defer timeout.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t.start()
	var done bool
	switch {
	case cfg.Strategy == Async:
		// Coalescing: the consumer sees an unknown share of the events,
		// so the run ends when the producers are done and the consumer
		// has taken the final value.
		done = alt.waitAsync(t, cfg.Timeout)
	case chk == nil:
		done = t.wait(cfg.Timeout.Nanoseconds())
	default:
		done = waitGo(t, chk.done, timeout.C, poll.C)
	}
	runtime.ReadMemStats(&ms1)
	if !done {
		t.abort()
	}
	r := t.finish()
	cerr := closeConsumer()

	res.Retries = r.retries
	res.Mallocs = ms1.Mallocs - ms0.Mallocs
	end, received, bad, wakes := r.endNs, r.received, r.badSeqs, r.wakeups
	if chk != nil {
		// closeConsumer has waited for the consumer goroutine to stop,
		// so its plain fields are ours now.
		end, received, bad, wakes = chk.endNs, chk.n, chk.bad.Load(), wakeups()
	}
	if cfg.Strategy == Async {
		end, received, bad = r.prodEndNs, r.sent, 0
		res.Lost = r.sent - alt.seen.Load()
	}
	res.Messages = received
	res.Wakeups = wakes
	res.Elapsed = time.Duration(end - r.startNs)
	switch {
	case r.badCode != 0:
		return res, fmt.Errorf("bench: %s: producer failed: %s", cfg.Strategy, strerror(r.badCode))
	case !done:
		return res, fmt.Errorf("bench: %s: consumer received %d of %d messages in %v",
			cfg.Strategy, received, total, cfg.Timeout)
	case bad != 0:
		return res, fmt.Errorf("bench: %s: %d messages out of order", cfg.Strategy, bad)
	case received != total:
		return res, fmt.Errorf("bench: %s: consumer received %d of %d messages", cfg.Strategy, received, total)
	case cerr != nil:
		return res, cerr
	}
	return res, nil
}

// waitGo waits for a Go consumer to have every message, for the timeout,
// or for a producer to fail.
func waitGo(t cTput, done <-chan struct{}, timeout, poll <-chan time.Time) bool {
	for {
		select {
		case <-done:
			return true
		case <-timeout:
			return false
		case <-poll:
			if t.failed() {
				return false
			}
		}
	}
}
