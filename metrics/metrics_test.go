package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foreigncall/foreign"
)

func newQueue(t *testing.T) *foreign.Queue[int] {
	t.Helper()
	q, err := foreign.NewQueue(func(int) {}, foreign.QueueConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Every counter of every registered handle is written, labelled with its
// name (escaped), with one HELP and TYPE line per family, from a fresh
// snapshot.
func TestWritePrometheus(t *testing.T) {
	reg := NewRegistry()
	q := newQueue(t)
	for i := range 3 {
		if err := q.Post(i); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.Close()
	f, err := foreign.NewFunc(func(x int) int { return x }, foreign.FuncConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Call(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	odd := "in \"q\"\\\n"
	if err := reg.Register("mqtt", q); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(odd, f); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := reg.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE foreign_posted_total counter\n",
		"# TYPE foreign_depth gauge\n",
		`foreign_posted_total{handle="mqtt"} 3` + "\n",
		`foreign_delivered_total{handle="mqtt"} 3` + "\n",
		`foreign_capacity{handle="mqtt"} 8` + "\n",
		`foreign_posted_total{handle="in \"q\"\\\n"} 1` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "# TYPE "); n != len(families) {
		t.Errorf("%d TYPE lines, want %d", n, len(families))
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") && strings.Count(line, " ") < 1 {
			t.Errorf("malformed line %q", line)
		}
	}
}

// Register refuses duplicates and empty input; Unregister removes.
func TestRegister(t *testing.T) {
	reg := NewRegistry()
	q := newQueue(t)
	defer q.Close()
	if err := reg.Register("a", q); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("a", q); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	if err := reg.Register("", q); err == nil {
		t.Error("empty name accepted")
	}
	if err := reg.Register("b", nil); err == nil {
		t.Error("nil source accepted")
	}
	reg.Unregister("a")
	reg.Unregister("never")
	var b strings.Builder
	_ = reg.WritePrometheus(&b)
	if strings.Contains(b.String(), `handle="a"`) {
		t.Error("unregistered handle still written")
	}
}

// Handler serves the text format with its content type; Var is expvar's
// JSON of every handle's Stats by name.
func TestHandlerAndVar(t *testing.T) {
	reg := NewRegistry()
	q := newQueue(t)
	if err := q.Post(7); err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	if err := reg.Register("q", q); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	if !strings.Contains(rec.Body.String(), `foreign_posted_total{handle="q"} 1`) {
		t.Errorf("body:\n%s", rec.Body.String())
	}
	var m map[string]foreign.Stats
	if err := json.Unmarshal([]byte(reg.Var().String()), &m); err != nil {
		t.Fatal(err)
	}
	if m["q"].Posted != 1 || m["q"].Delivered != 1 {
		t.Errorf("expvar: %+v", m)
	}
}

// A handle name that is not valid UTF-8 is written as valid UTF-8: a
// scraper would refuse the whole page otherwise.
func TestLabelValidUTF8(t *testing.T) {
	reg := NewRegistry()
	q := newQueue(t)
	defer q.Close()
	if err := reg.Register("bad\xffname", q); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = reg.WritePrometheus(&b)
	if !utf8.ValidString(b.String()) || !strings.Contains(b.String(), `handle="bad`+"\uFFFD"+`name"`) {
		t.Errorf("not valid UTF-8 or not replaced:\n%q", b.String())
	}
}

// A handle that records latencies has its histograms published: as
// Prometheus summaries (quantiles, sum, count) and under "Latency" in the
// expvar JSON; one that does not has none.
func TestLatencyPublished(t *testing.T) {
	reg := NewRegistry()
	q, err := foreign.NewQueue(func(int) {}, foreign.QueueConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	f, err := foreign.NewFunc(func(x int) int { return x }, foreign.FuncConfig{Latency: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_ = q.Post(i)
		if _, err := f.Call(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.Close()
	_ = f.Close()
	plain := newQueue(t)
	_ = plain.Close()
	for name, s := range map[string]Source{"q": q, "f": f, "plain": plain} {
		if err := reg.Register(name, s); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	if err := reg.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE foreign_queued_seconds summary",
		`foreign_queued_seconds{handle="q",quantile="0.99"} `,
		`foreign_queued_seconds_count{handle="q"} 5`,
		`foreign_handled_seconds_count{handle="f"} 5`,
		`foreign_handled_seconds{handle="f",quantile="0.5"} `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, `seconds{handle="plain"`) || strings.Count(out, "# TYPE foreign_queued_seconds") != 1 {
		t.Errorf("latency of a handle that records none, or a family twice:\n%s", out)
	}
	var m map[string]struct {
		Posted  uint64
		Latency map[string]struct{ Count, P99, Max int64 }
	}
	if err := json.Unmarshal([]byte(reg.Var().String()), &m); err != nil {
		t.Fatal(err)
	}
	if m["q"].Posted != 5 || m["q"].Latency["Queued"].Count != 5 || m["f"].Latency["Handled"].Count != 5 ||
		m["plain"].Latency != nil {
		t.Errorf("expvar: %+v", m)
	}
}
