// Package metrics publishes the Stats of foreign's handles where Go
// programs already look: the Prometheus text exposition format (for a
// /metrics endpoint or any scraper that reads it) and expvar. It needs
// nothing beyond the standard library, and the core package does not
// depend on it.
//
// Register each handle under a name; every read takes a fresh Stats
// snapshot of each one:
//
//	reg := metrics.NewRegistry()
//	reg.Register("mqtt-in", q)
//	http.Handle("/metrics", reg.Handler())
//	expvar.Publish("foreign", reg.Var())
package metrics

import (
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/foreigncall/foreign"
)

// Source is anything with foreign's Stats: every kind of handle, and a
// Loop's handles each on their own.
type Source interface {
	Stats() foreign.Stats
}

// LatencySource is a Source that also records latencies (the Latency
// field of its config): its histograms are published too, as summaries.
type LatencySource interface {
	Source
	Latency() foreign.Latency
}

// quantiles are the ones published from each latency histogram.
var quantiles = []float64{0.5, 0.9, 0.99, 0.999, 0.9999}

// Registry is a set of named handles. The zero value is not ready: use
// NewRegistry. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	sources map[string]Source
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{sources: map[string]Source{}} }

// ErrDuplicate is returned by Register for a name already registered.
var ErrDuplicate = errors.New("metrics: name already registered")

// Register adds s under name, which becomes its handle label. A name
// already in use is refused with ErrDuplicate, an empty one or a nil s with
// an error.
func (r *Registry) Register(name string, s Source) error {
	if name == "" || s == nil {
		return errors.New("metrics: Register needs a name and a source")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sources[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	r.sources[name] = s
	return nil
}

// Unregister removes name; it does nothing if name is not registered.
func (r *Registry) Unregister(name string) {
	r.mu.Lock()
	delete(r.sources, name)
	r.mu.Unlock()
}

// reading is one source's snapshot.
type reading struct {
	stats foreign.Stats
	lat   foreign.Latency // nil histograms if it records none
}

// snapshot reads every source's Stats (and latencies), sorted by name.
func (r *Registry) snapshot() ([]string, []reading) {
	r.mu.Lock()
	names := make([]string, 0, len(r.sources))
	srcs := make([]Source, 0, len(r.sources))
	for n := range r.sources {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		srcs = append(srcs, r.sources[n])
	}
	r.mu.Unlock()
	out := make([]reading, len(srcs))
	for i, s := range srcs { // outside the lock: Stats may take a while
		out[i].stats = s.Stats()
		if ls, ok := s.(LatencySource); ok {
			out[i].lat = ls.Latency()
		}
	}
	return names, out
}

// metric is one exposed series family: its name, type, help and value.
type metric struct {
	name, typ, help string
	value           func(foreign.Stats) uint64
}

var families = []metric{
	{"foreign_capacity", "gauge", "Messages the handle's ring holds (a byte queue: bytes).", func(s foreign.Stats) uint64 { return uint64(max(s.Capacity, 0)) }},
	{"foreign_posted_total", "counter", "Messages (or calls, or signals) accepted.", func(s foreign.Stats) uint64 { return uint64(s.Posted) }},
	{"foreign_delivered_total", "counter", "Messages handed to the handler or to Recv.", func(s foreign.Stats) uint64 { return uint64(s.Delivered) }},
	{"foreign_depth", "gauge", "Accepted messages not yet delivered.", func(s foreign.Stats) uint64 { return uint64(s.Depth) }},
	{"foreign_high_water", "gauge", "The largest depth the consumer has seen (a byte queue: bytes of its ring).", func(s foreign.Stats) uint64 { return uint64(s.HighWater) }},
	{"foreign_rejected_full_total", "counter", "Posts refused because the handle was full.", func(s foreign.Stats) uint64 { return uint64(s.RejectedFull) }},
	{"foreign_rejected_closed_total", "counter", "Posts refused because the handle was closed.", func(s foreign.Stats) uint64 { return uint64(s.RejectedClosed) }},
	{"foreign_wakeups_total", "counter", "System calls made to wake the parked consumer.", func(s foreign.Stats) uint64 { return uint64(s.Wakeups) }},
	{"foreign_panics_total", "counter", "Handler panics recovered.", func(s foreign.Stats) uint64 { return uint64(s.Panics) }},
	{"foreign_timed_out_total", "counter", "Waiting posts and calls that gave up.", func(s foreign.Stats) uint64 { return uint64(s.TimedOut) }},
	{"foreign_late_results_total", "counter", "Func results dropped because the caller had gone.", func(s foreign.Stats) uint64 { return uint64(s.LateResults) }},
	{"foreign_posted_bytes_total", "counter", "Bytes of the messages a byte queue accepted.", func(s foreign.Stats) uint64 { return s.PostedBytes }},
	{"foreign_delivered_bytes_total", "counter", "Bytes of the messages a byte queue delivered.", func(s foreign.Stats) uint64 { return s.DeliveredBytes }},
}

// WritePrometheus writes every registered handle's Stats in the Prometheus
// text exposition format (version 0.0.4): one family per counter, each
// series labelled handle="name".
func (r *Registry) WritePrometheus(w io.Writer) error {
	names, rs := r.snapshot()
	var b strings.Builder
	for _, m := range families {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for i, n := range names {
			fmt.Fprintf(&b, "%s{handle=\"%s\"} %d\n", m.name, escapeLabel(n), m.value(rs[i].stats))
		}
	}
	writeSummary(&b, "foreign_queued_seconds", "How long messages and calls waited, from their post to their handler's start.",
		names, rs, func(l foreign.Latency) *foreign.Histogram { return l.Queued })
	writeSummary(&b, "foreign_handled_seconds", "How long handlers and functions took.",
		names, rs, func(l foreign.Latency) *foreign.Histogram { return l.Handled })
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSummary writes one latency histogram of every source that has it
// as a summary family: its quantiles, sum and count, in seconds.
func writeSummary(b *strings.Builder, name, help string, names []string, rs []reading,
	pick func(foreign.Latency) *foreign.Histogram) {
	header := false
	for i, n := range names {
		h := pick(rs[i].lat)
		if h == nil {
			continue
		}
		if !header {
			fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s summary\n", name, help, name)
			header = true
		}
		l := escapeLabel(n)
		for _, q := range quantiles {
			fmt.Fprintf(b, "%s{handle=\"%s\",quantile=\"%g\"} %g\n", name, l, q, h.Quantile(q).Seconds())
		}
		fmt.Fprintf(b, "%s_sum{handle=\"%s\"} %g\n", name, l, (time.Duration(h.Count()) * h.Mean()).Seconds())
		fmt.Fprintf(b, "%s_count{handle=\"%s\"} %d\n", name, l, h.Count())
	}
}

// escapeLabel makes a label value valid UTF-8 (a scraper refuses the whole
// page otherwise) and escapes what the text format requires: backslash,
// double quote and line feed.
func escapeLabel(s string) string { return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD")) }

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Handler serves WritePrometheus over HTTP, for a /metrics endpoint.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.WritePrometheus(w) // a failed write is the client gone: nothing to tell it
	})
}

// Var is an expvar.Var whose value is a JSON object of every registered
// handle's Stats, by name, read afresh each time, with its latencies
// (count, quantiles and max in ns) under "Latency" when it records them:
// publish it with expvar.Publish.
func (r *Registry) Var() expvar.Var {
	return expvar.Func(func() any {
		names, rs := r.snapshot()
		m := make(map[string]varEntry, len(names))
		for i, n := range names {
			e := varEntry{Stats: rs[i].stats}
			if rs[i].lat.Queued != nil {
				e.Latency = map[string]summary{"Queued": summarize(rs[i].lat.Queued)}
				if h := rs[i].lat.Handled; h != nil {
					e.Latency["Handled"] = summarize(h)
				}
			}
			m[n] = e
		}
		return m
	})
}

// varEntry is one handle in Var's JSON.
type varEntry struct {
	foreign.Stats
	Latency map[string]summary `json:",omitempty"`
}

// summary is a latency histogram in Var's JSON, in ns.
type summary struct {
	Count                      uint64
	P50, P90, P99, P999, P9999 time.Duration
	Max                        time.Duration
}

func summarize(h *foreign.Histogram) summary {
	return summary{h.Count(), h.Quantile(0.5), h.Quantile(0.9), h.Quantile(0.99), h.Quantile(0.999),
		h.Quantile(0.9999), h.Max()}
}
