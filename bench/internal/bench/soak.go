package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/foreigncall/foreign"
)

// SoakConfig configures [MeasureSoak].
type SoakConfig struct {
	Messages  uint64        // in all; 0 means 100 M
	Producers int           // C producer threads; 0 means 2
	Samples   int           // rounds, each sampled at its end; 0 means 10
	Timeout   time.Duration // per round; 0 means 2 min
}

// SoakSample is the process's footprint after one round.
type SoakSample struct {
	Messages   uint64 // delivered so far, every one checked
	RSSKiB     uint64 // resident set size
	FDs        int    // open file descriptors
	Goroutines int
	HeapKiB    uint64 // Go heap in use
}

// SoakResult is a soak run: the samples, and whether they stayed flat.
type SoakResult struct {
	Samples []SoakSample
	Elapsed time.Duration
}

// Flat reports whether the footprint after the first round (the warm-up)
// stayed put to the last: descriptors and goroutines exactly, RSS within
// 2 MiB and the Go heap within 4 MiB (the garbage collector's own swing).
func (r SoakResult) Flat() error {
	if len(r.Samples) < 2 {
		return errors.New("bench: soak: fewer than two samples")
	}
	a, b := r.Samples[0], r.Samples[len(r.Samples)-1]
	switch {
	case b.FDs != a.FDs:
		return fmt.Errorf("bench: soak: descriptors %d -> %d", a.FDs, b.FDs)
	case b.Goroutines != a.Goroutines:
		return fmt.Errorf("bench: soak: goroutines %d -> %d", a.Goroutines, b.Goroutines)
	case b.RSSKiB > a.RSSKiB+2048:
		return fmt.Errorf("bench: soak: RSS %d -> %d KiB", a.RSSKiB, b.RSSKiB)
	case b.HeapKiB > a.HeapKiB+4096:
		return fmt.Errorf("bench: soak: Go heap %d -> %d KiB", a.HeapKiB, b.HeapKiB)
	}
	return nil
}

// MeasureSoak posts Messages from C threads into one foreign queue in
// Samples rounds, checking every message (no loss, no repeat, per-thread
// order), and samples RSS, descriptors, goroutines and the Go heap after
// each round.
func MeasureSoak(cfg SoakConfig) (SoakResult, error) {
	if cfg.Messages == 0 {
		cfg.Messages = 100_000_000
	}
	if cfg.Producers == 0 {
		cfg.Producers = 2
	}
	if cfg.Samples == 0 {
		cfg.Samples = 10
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	per := cfg.Messages / uint64(cfg.Samples) / uint64(cfg.Producers)
	if per == 0 {
		return SoakResult{}, errors.New("bench: soak: fewer messages than producers x samples")
	}
	var cur atomic.Pointer[checker] // the round's checker; rounds restart the sequences
	q, err := foreign.NewQueue(func(m msg) { cur.Load().consume(m) }, foreign.QueueConfig{Capacity: 4096, Name: "soak"})
	if err != nil {
		return SoakResult{}, err
	}
	defer q.Close()
	var res SoakResult
	start := time.Now()
	var total uint64
	for round := range cfg.Samples {
		chk := newChecker(cfg.Producers, per*uint64(cfg.Producers), false)
		cur.Store(chk)
		t, err := newCTput(kindForeign, uintptr(q.Token()), cfg.Producers, int(per), 4096)
		if err != nil {
			return res, err
		}
		t.start()
		select {
		case <-chk.done:
		case <-time.After(cfg.Timeout):
			t.abort()
			t.finish()
			return res, fmt.Errorf("bench: soak: round %d not delivered within %v", round, cfg.Timeout)
		}
		r := t.finish()
		if r.badCode != 0 {
			return res, fmt.Errorf("bench: soak: producer failed: %s", strerror(r.badCode))
		}
		if bad := chk.bad.Load(); bad != 0 {
			return res, fmt.Errorf("bench: soak: round %d: %d messages out of order", round, bad)
		}
		total += chk.n
		res.Samples = append(res.Samples, sample(total))
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func sample(delivered uint64) SoakSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := SoakSample{Messages: delivered, Goroutines: runtime.NumGoroutine(), HeapKiB: ms.HeapInuse / 1024}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			s.RSSKiB = pages * uint64(os.Getpagesize()) / 1024
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.FDs = len(fds)
	}
	return s
}
