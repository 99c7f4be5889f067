package foreign

import (
	"bytes"
	"context"
	"runtime/trace"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/foreigncall/foreign/internal/cthreads"
)

// With runtime/trace on, every handler batch, call and signal handler runs
// in a region of its kind's type, with the handle's name logged: the trace
// names them all (trace.go).
func TestTraceRegions(t *testing.T) {
	if trace.IsEnabled() {
		t.Skip("a trace is already running")
	}
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	q, err := NewQueue(func(int) { wg.Done() }, QueueConfig{Name: "traced-queue"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFunc(func(x int) int { return x }, FuncConfig{Name: "traced-func"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNotifier(func() { wg.Done() }, NotifierConfig{Name: "traced-notifier"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInterrupt(func(int) { wg.Done() }, InterruptConfig{Name: "traced-interrupt"})
	if err != nil {
		t.Fatal(err)
	}
	v := 1
	if rc := cthreads.Post(uintptr(q.Token()), unsafe.Pointer(&v), unsafe.Sizeof(v)); rc != 0 {
		t.Fatal(rc)
	}
	if _, err := f.Call(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if err := n.Trigger(); err != nil {
		t.Fatal(err)
	}
	if rc := cthreads.Signal(uintptr(in.Token()), 3); rc != 0 {
		t.Fatal(rc)
	}
	within(t, 10*time.Second, "the handlers", wg.Wait)
	for _, c := range []interface{ Close() error }{q, f, n, in} {
		_ = c.Close()
	}
	trace.Stop()
	for _, want := range []string{"foreign.Queue", "foreign.Func", "foreign.Notifier", "foreign.Interrupt",
		"foreign.handle", "traced-queue", "traced-func", "traced-notifier", "traced-interrupt"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("the trace does not name %q", want)
		}
	}
}
