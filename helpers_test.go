package foreign

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// TestMain fails the run if a goroutine of the library outlives the
// tests: every test closes what it opens, and Close must end the
// handle's consumer and workers. TestLeakCheckSeesLeak shows that the
// check sees a handle left open.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := libraryGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked library goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// libraryGoroutines waits up to limit for every goroutine running code of
// the library (a frame in one of its non-test files, at the root or in
// internal/fq) to end, and returns the stacks of those still there.
func libraryGoroutines(limit time.Duration) string {
	_, self, _, _ := runtime.Caller(0)
	dir := filepath.Dir(self) + string(filepath.Separator)
	deadline := time.Now().Add(limit)
	for {
		buf := make([]byte, 1<<22)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			for line := range strings.SplitSeq(g, "\n") {
				file, _, _ := strings.Cut(strings.TrimSpace(line), ":")
				rel, ok := strings.CutPrefix(file, dir)
				rel = strings.TrimPrefix(rel, filepath.Join("internal", "fq")+string(filepath.Separator))
				if ok && !strings.HasSuffix(rel, "_test.go") && !strings.Contains(rel, string(filepath.Separator)) {
					leaked = append(leaked, g)
					break
				}
			}
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seqChecker verifies per-producer order, no loss and no duplicates. The
// handler goroutine calls see; the test reads the result after Close, which
// happens after the last handler call.
type seqChecker struct {
	mu   sync.Mutex // Go producers' tests read it while the handler runs
	next map[uint32]uint64
	errs []string
	n    uint64
}

func newSeqChecker() *seqChecker { return &seqChecker{next: map[uint32]uint64{}} }

func (c *seqChecker) see(m cthreads.Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if want := c.next[m.Producer]; m.Seq != want && len(c.errs) < 10 {
		c.errs = append(c.errs, fmt.Sprintf("producer %d: got seq %d, want %d", m.Producer, m.Seq, want))
	}
	c.next[m.Producer] = m.Seq + 1
}

// check fails t unless producer firstID+i delivered exactly accepted[i]
// messages, in order.
func (c *seqChecker) check(t *testing.T, firstID uint32, accepted []uint64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errs {
		t.Error(e)
	}
	for i, a := range accepted {
		if got := c.next[firstID+uint32(i)]; got != a {
			t.Errorf("producer %d: delivered %d, accepted %d", firstID+uint32(i), got, a)
		}
	}
}

func sum(xs []uint64) (s uint64) {
	for _, x := range xs {
		s += x
	}
	return s
}

// within fails the test if f does not return within d: a hang is a bug
// (a lost wake-up), and a test must say so rather than time out silently.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}
