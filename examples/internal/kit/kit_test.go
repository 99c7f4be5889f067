package kit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foreigncall/foreign"
)

func TestPayload(t *testing.T) {
	for _, n := range []int{0, HeaderLen, HeaderLen + 1, 256, 4096} {
		p := Payload(42, n)
		seq, err := Verify(p)
		if err != nil || seq != 42 || len(p) != max(n, HeaderLen) {
			t.Fatalf("n %d: seq %d, len %d, err %v", n, seq, len(p), err)
		}
		if len(p) > HeaderLen {
			p[len(p)-1] ^= 1
			if _, err := Verify(p); err == nil {
				t.Errorf("n %d: a flipped bit passed", n)
			}
		}
	}
	// Two messages of the same length differ in their bodies, so one in
	// the wrong place fails its checksum.
	a, b := Payload(1, 64), Payload(2, 64)
	if bytes.Equal(a[HeaderLen:], b[HeaderLen:]) {
		t.Error("bodies of messages 1 and 2 are equal")
	}
	copy(a[:8], b[:8])
	if _, err := Verify(a); err == nil {
		t.Error("message 1's body under message 2's header passed")
	}
}

func TestPayloadLen(t *testing.T) {
	seen := map[int]bool{}
	for i := range uint64(10000) {
		n := PayloadLen(i, 256)
		if n < HeaderLen || n > 256 {
			t.Fatalf("PayloadLen(%d) = %d", i, n)
		}
		seen[n] = true
	}
	if !seen[HeaderLen] || !seen[256] {
		t.Errorf("the shortest or the longest length never occurs")
	}
}

func TestVariedLen(t *testing.T) {
	var short, mid, long int
	for i := range uint64(20000) {
		n := VariedLen(i, 64<<10)
		switch {
		case n < HeaderLen || n > 64<<10:
			t.Fatalf("VariedLen(%d) = %d", i, n)
		case n <= 256:
			short++
		case n <= 4096:
			mid++
		default:
			long++
		}
	}
	if short == 0 || mid == 0 || long == 0 || long > mid || mid > short {
		t.Errorf("short %d, up to 4 KiB %d, longer %d", short, mid, long)
	}
}

func TestChecker(t *testing.T) {
	c := NewChecker(6)
	for _, s := range []uint64{0, 1, 3, 2, 3, 9} { // 2 late, 3 twice, 9 outside, 4 and 5 missing
		c.Payload(Payload(s, 20))
	}
	bad := Payload(5, 20)
	bad[HeaderLen] ^= 0xFF
	c.Payload(bad)
	c.Corrupt("frame 4: hash")
	r := c.Report()
	want := Report{Expected: 6, Received: 8, Missing: 2, Corrupt: 2, Duplicates: 1, Reordered: 1, Outside: 1}
	r.First = ""
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if r.Check(2, false) == nil {
		t.Error("Check passed a report with a duplicate")
	}

	c = NewChecker(3)
	c.Seq(0)
	c.Seq(2)
	if err := c.Report().Check(1, true); err != nil {
		t.Errorf("one counted loss: %v", err)
	}
	if err := c.Report().Check(0, true); err == nil {
		t.Error("an uncounted loss passed")
	}
}

func TestSummarize(t *testing.T) {
	ns := make([]uint64, 1000)
	for i := range ns {
		ns[i] = uint64(1000 - i) // 1000 .. 1
	}
	l := Summarize(ns)
	if l.N != 1000 || l.P50 != 500 || l.P99 != 990 || l.P999 != 999 || l.Max != 1000 {
		t.Errorf("got %+v", l)
	}
	if (Summarize(nil) != Latency{}) {
		t.Error("Summarize(nil) is not zero")
	}
	if got := (Row{Messages: 10, Elapsed: time.Second}).Rate(); got != 10 {
		t.Errorf("Rate = %v", got)
	}
}

// TestHeadersCurrent checks that each example's foreign.h, written by
// go generate, is the library's current header: a stale copy would compile
// C against an ABI the linked library no longer has.
func TestHeadersCurrent(t *testing.T) {
	for _, dir := range []string{"mqtt", "nats", "uvpool", "timers", "gstappsink", "sdlaudio"} {
		got, err := os.ReadFile(filepath.Join("..", "..", dir, "foreign.h"))
		if err != nil {
			t.Error(err)
			continue
		}
		if string(got) != foreign.CHeader() {
			t.Errorf("%s/foreign.h differs from the library's; run go generate ./... in examples", dir)
		}
	}
}

func TestServerNotFound(t *testing.T) {
	_, err := start("no-such-server-for-kit", func(int, string) ([]string, error) { return nil, nil })
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("got %v", err)
	}
}
