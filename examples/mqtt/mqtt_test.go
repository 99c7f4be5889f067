package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/foreigncall/foreign"
	"github.com/foreigncall/foreign/examples/internal/kit"
)

func startBroker(t *testing.T) *kit.Server {
	t.Helper()
	srv, err := kit.StartMosquitto()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// TestSideBySide publishes numbered, checksummed messages of varied
// lengths (most short, some up to 64 KiB: kit.VariedLen) through a real
// mosquitto broker to the foreign_postv binding and to the //export one,
// with and without garbage-collector pressure, checks every byte of every
// message of every run, and logs the figures (reported, not asserted: they
// depend on the machine).
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	srv := startBroker(t)
	n := 20000
	if kit.Race {
		n = 10000
	}
	const maxPayload = 64 << 10
	var rows []kit.Row
	var bytes uint64
	for _, gc := range []bool{false, true} {
		for _, mode := range []Mode{Post, Export} {
			out, err := experiment{
				addr: srv.Addr, mode: mode, n: n, maxPayload: maxPayload,
				qos: 1, gc: gc, timeout: 40 * time.Second,
			}.run()
			if err != nil {
				t.Errorf("%v, gc %v: %v", mode, gc, err)
			}
			if out.stats.Lost != 0 {
				t.Logf("%v, gc %v: %d posts refused (%v), counted and accounted for", mode, gc, out.stats.Lost, out.stats.LastErr)
			}
			rows = append(rows, out.row)
			bytes = out.bytes
		}
	}
	t.Logf("mosquitto, QoS 1, %d messages of %d B..%d KiB (%.1f MB) per run (race detector: %v; %s):\n%s",
		n, kit.HeaderLen, maxPayload>>10, float64(bytes)/1e6, kit.Race, machine, kit.Table(rows))
}

// wholeSizes are payload lengths around every boundary the old fixed-size
// message had (256 bytes) and the ring's own (8-byte records, a 4 KiB page),
// up to tens and hundreds of KiB.
var wholeSizes = []int{0, 1, 7, 8, 9, 255, 256, 257, 1000, 4095, 4096, 4097, 16 << 10, 40<<10 + 3, 64<<10 + 1, 300 << 10}

// got is a message as a handler copied it: its slices are valid only
// during the call.
type got struct {
	topic, payload string
	qos            uint8
}

// TestWhole publishes payloads of every length in wholeSizes, and the
// longest the subscriber takes, and checks that each arrives whole, every
// byte, with its topic and QoS, in both modes.
func TestWhole(t *testing.T) {
	srv := startBroker(t)
	const topic = "foreign/examples/whole"
	const maxMessage = 1 << 20
	sizes := append(wholeSizes, maxMessage-len(topic))
	for _, mode := range []Mode{Post, Export} {
		ch := make(chan got, len(sizes))
		sub, err := Subscribe(Config{Addr: srv.Addr, Topic: topic, QoS: 1, Mode: mode, MaxMessage: maxMessage},
			func(m Message) { ch <- got{string(m.Topic), string(m.Payload), m.QoS} })
		if err != nil {
			t.Fatal(err)
		}
		pub, err := NewPublisher(srv.Addr)
		if err != nil {
			sub.Close()
			t.Fatal(err)
		}
		sent := make([][]byte, len(sizes))
		for i, n := range sizes {
			sent[i] = make([]byte, n)
			kit.Fill(sent[i], uint64(i)+1)
			if err := pub.Send(topic, sent[i], 1); err != nil {
				t.Error(err)
			}
		}
		for i, want := range sent {
			select {
			case m := <-ch:
				if m.payload != string(want) {
					t.Errorf("%v: message %d: %d bytes, want %d (%s)", mode, i, len(m.payload), len(want), firstDiff(m.payload, want))
				}
				if m.topic != topic || m.qos != 1 {
					t.Errorf("%v: message %d: topic %q qos %d", mode, i, m.topic, m.qos)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%v: message %d of %d bytes did not arrive within 10 s", mode, i, len(want))
			}
		}
		pub.Close()
		sub.Close()
		if st := sub.Stats(); st.Lost != 0 || st.Malformed != 0 {
			t.Errorf("%v: %d lost (%v), %d malformed", mode, st.Lost, st.LastErr, st.Malformed)
		}
	}
}

// TestTooLong checks that a message longer than the subscriber's
// MaxMessage is refused with FOREIGN_EMSGSIZE and counted, and that the
// messages around it arrive.
func TestTooLong(t *testing.T) {
	srv := startBroker(t)
	const topic = "foreign/examples/toolong"
	const maxMessage = 4096
	ch := make(chan int, 3)
	sub, err := Subscribe(Config{Addr: srv.Addr, Topic: topic, QoS: 1, Mode: Post, MaxMessage: maxMessage},
		func(m Message) { ch <- len(m.Payload) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := NewPublisher(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	fits := maxMessage - len(topic)
	for _, n := range []int{fits, fits + 1, 10} {
		if err := pub.Send(topic, make([]byte, n), 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{fits, 10} {
		select {
		case n := <-ch:
			if n != want {
				t.Errorf("got a payload of %d bytes, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the payload of %d bytes did not arrive within 10 s", want)
		}
	}
	sub.Close()
	if st := sub.Stats(); st.Lost != 1 || !errors.Is(st.LastErr, foreign.ErrMessageSize) || st.Callbacks != 3 {
		t.Errorf("%d callbacks, %d lost (%v); want 3, 1 (%v)", st.Callbacks, st.Lost, st.LastErr, foreign.ErrMessageSize)
	}
}

// firstDiff describes where got first differs from want.
func firstDiff(got string, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#02x, want %#02x", i, got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}
