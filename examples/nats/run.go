package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// experiment is one end-to-end run: publish n numbered, checksummed
// messages through the server to a subscriber bound with mode, and check
// that each arrives once, in order, intact. The test and main both run it.
type experiment struct {
	url        string
	mode       Mode
	n          int
	maxPayload int // payload lengths spread over [kit.HeaderLen, maxPayload] (kit.VariedLen)
	gc         bool
	timeout    time.Duration
}

type outcome struct {
	row    kit.Row
	report kit.Report
	stats  Stats
	bytes  uint64 // payload bytes sent
}

var subjects atomic.Uint64

func (e experiment) run() (outcome, error) {
	var out outcome
	stream := kit.NewStream(e.n)
	// A subject of its own per run: a late message of another run cannot
	// arrive here.
	subject := fmt.Sprintf("foreign.examples.%d.%d", os.Getpid(), subjects.Add(1))
	sub, err := Subscribe(Config{
		URL: e.url, Subject: subject, Mode: e.mode,
		Capacity: 4 << 20, MaxMessage: len(subject) + e.maxPayload, Wait: 5 * time.Second, Timings: e.n,
	}, func(m Message) { stream.Deliver(m.Payload) })
	if err != nil {
		return out, err
	}
	defer sub.Close()
	pub, err := NewPublisher(e.url)
	if err != nil {
		return out, err
	}
	defer pub.Close()

	elapsed, gcs, runErr := stream.Run(kit.Send{
		MaxPayload: e.maxPayload, Len: kit.VariedLen, GC: e.gc, Timeout: e.timeout,
		Publish: func(p []byte) error { return pub.Send(subject, p) },
		Receiver: func() (uint64, uint64) {
			st := sub.Stats()
			return st.Callbacks, st.Lost
		},
	})
	closeErr := sub.Close() // drains the subscription, then the queue
	out.stats = sub.Stats()
	out.report = stream.Check.Report()
	out.bytes = stream.Bytes()
	out.row = kit.Row{
		Binding: e.mode.String(), GC: e.gc, Messages: e.n, Waited: out.stats.Waited, Lost: out.stats.Lost,
		Elapsed: elapsed, GCCycles: gcs, Callback: kit.Summarize(sub.Timings()),
		Slept: out.stats.Slept, Preempted: out.stats.Preempted,
	}
	switch {
	case runErr != nil:
		return out, runErr
	case closeErr != nil:
		return out, closeErr
	case out.stats.Dropped != 0:
		return out, fmt.Errorf("libnats dropped %d messages", out.stats.Dropped)
	case out.stats.Malformed != 0:
		return out, fmt.Errorf("%d malformed queue messages", out.stats.Malformed)
	}
	return out, out.report.Check(out.stats.Lost, true)
}
