package bench

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestBytes runs every byte-string strategy with one and two producers at
// each size class, through a small ring so that producers meet a full
// queue and records wrap (and, at 64 KiB, a pipe that takes a record in
// parts), and checks that every message arrived, counted once.
func TestBytes(t *testing.T) {
	for _, size := range []int{BytesHeader, 300, 4096, 64 << 10} {
		ring := 16 << 10
		for ring < 2*int(recBytes(size)) {
			ring *= 2
		}
		messages := 3000
		if size >= 4096 {
			messages = 300
		}
		type run struct {
			s    Strategy
			spin bool
		}
		var runs []run
		for _, s := range ByteStrategies {
			runs = append(runs, run{s, false})
		}
		runs = append(runs, run{BytesPost, true}, run{BytesPostv, true})
		for _, n := range []int{1, 2} {
			for _, x := range runs {
				s := x.s
				name := fmt.Sprintf("size=%d/producers=%d/strategy=%s", size, n, s)
				if x.spin {
					name += "/spin"
				}
				t.Run(name, func(t *testing.T) {
					r, err := MeasureBytes(BytesConfig{Strategy: s, Producers: n, Size: size, Messages: messages,
						Ring: ring, Timeout: 30 * time.Second, Spin: x.spin})
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%+v: %.0f msgs/s, %.0f MB/s, %.3f allocs/msg", r, r.MsgsPerSec(), r.MBPerSec(), r.AllocsPerMsg())
					total := uint64(n * messages)
					if r.Strategy != s || r.Producers != n || r.Size != size {
						t.Errorf("result for %s/%d/%d", r.Strategy, r.Producers, r.Size)
					}
					if r.Messages != total || r.Bytes != total*uint64(size) {
						t.Errorf("%d messages, %d bytes; want %d, %d", r.Messages, r.Bytes, total, total*uint64(size))
					}
					if r.Elapsed <= 0 || !(r.MBPerSec() > 0) {
						t.Errorf("elapsed %v", r.Elapsed)
					}
					if x.spin && r.Waits != 0 || s != BytesPost && s != BytesPostv && r.Waits+r.Retries != 0 {
						t.Errorf("%d waits, %d retries", r.Waits, r.Retries)
					}
				})
			}
		}
	}
}

// TestBytesLatency times every byte-string strategy on a short paced run
// of two bursts and checks that the counts add up and every accepted
// message was delivered.
func TestBytesLatency(t *testing.T) {
	const events, burst, rate = 1999, 1000, 200_000
	const warmup = rate / 1000
	for _, s := range ByteLatencyStrategies {
		t.Run(string(s), func(t *testing.T) {
			r, ns, err := MeasureBytesLatency(BytesLatencyConfig{Strategy: s, Events: events, Burst: burst, Rate: rate})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", r)
			if r.Samples != events || len(ns) != events {
				t.Errorf("%d samples (%d ns), want %d", r.Samples, len(ns), events)
			}
			if r.Accepted+r.Rejected != 2*warmup+events {
				t.Errorf("accepted %d + rejected %d, want %d posts", r.Accepted, r.Rejected, 2*warmup+events)
			}
			if s != Noop && r.Delivered != r.Accepted {
				t.Errorf("delivered %d of %d accepted", r.Delivered, r.Accepted)
			}
			ps := []float64{r.P50, r.P90, r.P99, r.P999, r.P9999, r.Max}
			if !(ps[0] > 0) {
				t.Errorf("p50 %v ns", ps[0])
			}
			for i := 1; i < len(ps); i++ {
				if ps[i] < ps[i-1] {
					t.Errorf("percentiles out of order: %v", ps)
					break
				}
			}
			for i := 1; i < len(ns); i++ {
				if ns[i] < ns[i-1] {
					t.Fatalf("samples not sorted at %d", i)
				}
			}
		})
	}
}

// bmsg is a byte string as the C senders make it.
func bmsg(size int, seq uint64, producer uint32) []byte {
	m := make([]byte, size)
	binary.NativeEndian.PutUint64(m, seq)
	binary.NativeEndian.PutUint32(m[8:], producer)
	binary.NativeEndian.PutUint32(m[12:], uint32(size))
	if size > BytesHeader {
		m[size-1] = byte(seq)
	}
	return m
}

// TestByteChecker shows the consumers' check catching what the scenario
// claims it would: a lost, repeated, reordered, truncated or corrupted
// message, or one of another producer.
func TestByteChecker(t *testing.T) {
	good := func() *byteChecker {
		c := newByteChecker(2, 0, 64, false)
		c.check(bmsg(64, 0, 0))
		c.check(bmsg(64, 0, 1))
		c.check(bmsg(64, 1, 0))
		return c
	}
	if c := good(); c.bad.Load() != 0 || c.n != 3 || c.bytes != 3*64 {
		t.Fatalf("in-order messages: %d bad (%s), %d messages, %d bytes", c.bad.Load(), c.firstBad(), c.n, c.bytes)
	}
	corrupt := bmsg(64, 2, 0)
	corrupt[63] ^= 0xff
	wrongLen := bmsg(64, 2, 0)
	binary.NativeEndian.PutUint32(wrongLen[12:], 65)
	for name, m := range map[string][]byte{
		"gap":            bmsg(64, 3, 0),
		"repeat":         bmsg(64, 1, 0),
		"other producer": bmsg(64, 0, 2),
		"short":          bmsg(64, 2, 0)[:40],
		"long":           append(bmsg(64, 2, 0), 0),
		"last byte":      corrupt,
		"length field":   wrongLen,
	} {
		c := good()
		c.check(m)
		if c.bad.Load() != 1 {
			t.Errorf("%s: %d bad, want 1", name, c.bad.Load())
		}
		t.Logf("%s: %s", name, c.firstBad())
	}
	// The last expected message closes done, once.
	c := newByteChecker(1, 2, BytesHeader, true)
	c.check(bmsg(BytesHeader, 0, 0))
	select {
	case <-c.done:
		t.Fatal("done before the last message")
	default:
	}
	c.check(bmsg(BytesHeader, 1, 0))
	<-c.done
	if c.got.Load() != 2 || c.endNs == 0 {
		t.Errorf("got %d, endNs %d", c.got.Load(), c.endNs)
	}
}

// TestReadRecords feeds the pipe reader records a byte at a time, so that
// every record arrives in parts, and then a torn one.
func TestReadRecords(t *testing.T) {
	var stream []byte
	for i := range 50 {
		m := bmsg(100, uint64(i), 0)
		stream = binary.NativeEndian.AppendUint64(stream, uint64(len(m)))
		stream = append(stream, m...)
	}
	c := newByteChecker(1, 0, 100, false)
	if err := readRecords(iotest.OneByteReader(strings.NewReader(string(stream))), 100, c.check); err != nil {
		t.Fatal(err)
	}
	if c.n != 50 || c.bad.Load() != 0 {
		t.Errorf("%d messages, %d bad (%s)", c.n, c.bad.Load(), c.firstBad())
	}
	if err := readRecords(strings.NewReader(string(stream[:len(stream)-1])), 100, func([]byte) {}); err == nil {
		t.Error("a torn last record was not reported")
	}
	if err := readRecords(strings.NewReader(string(stream)), 99, func([]byte) {}); err == nil {
		t.Error("a record longer than the size was not reported")
	}
}

// TestBytesBadConfig checks that the measurements refuse what they cannot
// run.
func TestBytesBadConfig(t *testing.T) {
	for _, cfg := range []BytesConfig{
		{Strategy: Foreign},
		{Strategy: BytesPost, Size: BytesHeader - 1},
		{Strategy: BytesPost, Size: maxByteSize + 1},
		{Strategy: BytesPost, Ring: 3 << 10},
		{Strategy: BytesPost, Size: 4096, Ring: 4096},
		{Strategy: BytesPost, Producers: -1},
		{Strategy: BytesPost, Producers: maxProducersB + 1},
	} {
		if _, err := MeasureBytes(cfg); err == nil {
			t.Errorf("MeasureBytes(%+v): no error", cfg)
		}
	}
	if _, _, err := MeasureBytesLatency(BytesLatencyConfig{Strategy: CRing}); err == nil {
		t.Error("MeasureBytesLatency accepted c-ring")
	}
	for _, s := range ByteLatencyStrategies {
		if got, err := ParseStrategy(string(s)); got != s || err != nil {
			t.Errorf("ParseStrategy(%q) = %q, %v", s, got, err)
		}
	}
	if got, err := ParseStrategy(string(Memcpy)); got != Memcpy || err != nil {
		t.Errorf("ParseStrategy(memcpy) = %q, %v", got, err)
	}
}
