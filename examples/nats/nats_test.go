package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

func startServer(t *testing.T) string {
	t.Helper()
	srv, err := kit.StartNATS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return "nats://" + srv.Addr
}

// TestSideBySide publishes numbered, checksummed messages through a real
// nats-server to the foreign_post binding and to the //export one, with and
// without garbage-collector pressure, checks every message of every run,
// and logs the figures (reported, not asserted: they depend on the
// machine).
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	url := startServer(t)
	n := 50000
	if kit.Race {
		n = 20000
	}
	var rows []kit.Row
	for _, gc := range []bool{false, true} {
		for _, mode := range []Mode{Post, Export} {
			out, err := experiment{
				url: url, mode: mode, n: n, maxPayload: MaxPayload, gc: gc, timeout: 40 * time.Second,
			}.run()
			if err != nil {
				t.Errorf("%v, gc %v: %v", mode, gc, err)
			}
			if out.stats.Lost != 0 {
				t.Logf("%v, gc %v: %d posts refused (%v), counted and accounted for", mode, gc, out.stats.Lost, out.stats.LastErr)
			}
			rows = append(rows, out.row)
		}
	}
	t.Logf("nats-server, %d messages of %d..%d bytes per run (race detector: %v; %s):\n%s",
		n, kit.HeaderLen, MaxPayload, kit.Race, machine, kit.Table(rows))
}

// TestTruncated checks that a payload longer than a Message holds arrives
// cut to MaxPayload bytes and flagged, with its full length, in both modes.
func TestTruncated(t *testing.T) {
	url := startServer(t)
	const subject = "foreign.examples.truncated"
	for _, mode := range []Mode{Post, Export} {
		got := make(chan Message, 1)
		sub, err := Subscribe(Config{URL: url, Subject: subject, Mode: mode}, func(m Message) { got <- m })
		if err != nil {
			t.Fatal(err)
		}
		pub, err := NewPublisher(url)
		if err != nil {
			sub.Close()
			t.Fatal(err)
		}
		long := kit.Payload(7, 3*MaxPayload+5)
		if err := pub.Send(subject, long); err != nil {
			t.Error(err)
		}
		if err := pub.Flush(5 * time.Second); err != nil {
			t.Error(err)
		}
		select {
		case m := <-got:
			if !m.Truncated() || m.Len != uint32(len(long)) || !bytes.Equal(m.Payload(), long[:MaxPayload]) {
				t.Errorf("%v: got len %d truncated %v payload %x...", mode, m.Len, m.Truncated(), m.Payload()[:16])
			}
			if m.Subject() != subject {
				t.Errorf("%v: subject %q", mode, m.Subject())
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%v: no message within 10 s", mode)
		}
		pub.Close()
		if err := sub.Close(); err != nil {
			t.Error(err)
		}
	}
}
