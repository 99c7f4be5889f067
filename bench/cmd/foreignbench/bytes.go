package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/foreigncall/foreign/bench/internal/bench"
)

// The byte-string scenario's tables and targets.

// byteQueues are this library's byte-string strategies.
var byteQueues = []bench.Strategy{bench.BytesPost, bench.BytesPostv}

// bestAlt is the fastest alternative (by median messages per second) of a
// byte-string case, or nil.
func (r *Report) bestAlt(cs string) *Cell {
	var best *Cell
	for _, s := range bench.ByteAlternatives {
		if c := r.find(scBytes, cs, string(s)); c != nil && (best == nil || c.Median > best.Median) {
			best = c
		}
	}
	return best
}

// memcpyOf is the limit of a byte-string case: one C thread copying
// messages of the same size, measured in the one-producer case.
func (r *Report) memcpyOf(size int) *Cell {
	return r.find(scBytes, bytesCase(size, 1), string(bench.Memcpy))
}

// bestAltLatency is the alternative with the lowest value of q among the
// byte-latency cells, and that value.
func (r *Report) bestAltLatency(q func(*Pcts) float64) (*Cell, float64) {
	var best *Cell
	v := math.Inf(1)
	for _, s := range bench.ByteAlternatives {
		if c := r.find(scBytesLat, bytesLatCase, string(s)); c != nil && c.Latency != nil && q(c.Latency) < v {
			best, v = c, q(c.Latency)
		}
	}
	return best, v
}

func mbps(v float64) string {
	if v >= 10_000 {
		return fmt.Sprintf("%.1f GB/s", v/1000)
	}
	return fmt.Sprintf("%.0f MB/s", v)
}

func writeBytes(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if cs := r.cases(scBytes); len(cs) > 0 {
		fmt.Fprintln(w, "\nByte strings: C producer threads → Go consumer, every message touched and checked (length, header, order, last byte); median; MB = 10^6 bytes (higher is better)")
		fmt.Fprintln(w, "memcpy: one C thread copying the same messages into a buffer of the ring's size (1 MiB), the limit; vs best alt: against the fastest of export+GoBytes, export+pool, pipe, seqpacket in the same case;")
		fmt.Fprintln(w, "each strategy buffers in 1 MiB (ring, pipe, socket buffer, channel slots); a producer that finds it full waits (foreign_post_wait / foreign_postv_wait, a blocking write, a channel send)")
		fmt.Fprintln(tw, "size\tproducers\tstrategy\tM msgs/s\tMB/s\tvs best alt\tvs memcpy\tallocs/msg\tspread\t")
		for _, k := range cs {
			best := r.bestAlt(k)
			for _, c := range r.cellsOf(scBytes, k) {
				va, vm := "-", "-"
				if best != nil {
					va = ratio(c.Median, best.Median)
				}
				if m := r.memcpyOf(c.Size); m != nil {
					vm = ratio(c.MedianMB, m.MedianMB)
				}
				p := strings.TrimPrefix(k[strings.Index(k, "producers="):], "producers=")
				if c.Strategy == string(bench.Memcpy) {
					p = "(1 thread)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.0f\t%s\t%s\t%.3f\t%s\t\n", sizeName(c.Size), p, c.Strategy,
					c.Median/1e6, c.MedianMB, va, vm, c.Allocs, spread(c))
			}
		}
		tw.Flush()
	}
	if len(r.cellsOf(scBytesLat, bytesLatCase)) == 0 {
		return
	}
	fmt.Fprintf(w, "\nByte posts seen by the C thread: %s, one C thread, each post timed in C (lower is better)\n", bytesLatCase)
	fmt.Fprintln(tw, "strategy\tp50\tp90\tp99\tp99.9\tp99.99\tmax\tallocs/msg\tp50 vs noop\tmax vs noop\tspread\t")
	noop := r.find(scBytesLat, bytesLatCase, string(bench.Noop))
	for _, c := range r.cellsOf(scBytesLat, bytesLatCase) {
		p := c.Latency
		vp, vm := "-", "-"
		if noop != nil && noop.Latency != nil {
			vp, vm = ratio(p.P50, noop.Latency.P50), ratio(p.Max, noop.Latency.Max)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t\n", c.Strategy,
			ns(p.P50), ns(p.P90), ns(p.P99), ns(p.P999), ns(p.P9999), ns(p.Max), c.Allocs, vp, vm, spread(c))
	}
	tw.Flush()
	for _, s := range byteQueues {
		c := r.find(scBytesLat, bytesLatCase, string(s))
		if c == nil || c.Latency == nil {
			continue
		}
		var parts []string
		for _, q := range latQuantiles {
			if b, v := r.bestAltLatency(q.get); b != nil {
				parts = append(parts, fmt.Sprintf("%s %s (%s)", q.name, ratio(q.get(c.Latency), v), b.Strategy))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s vs the best alternative at each: %s\n", s, strings.Join(parts, ", "))
		}
	}
}

var latQuantiles = []struct {
	name string
	get  func(*Pcts) float64
}{
	{"p50", func(p *Pcts) float64 { return p.P50 }},
	{"p99", func(p *Pcts) float64 { return p.P99 }},
	{"p99.99", func(p *Pcts) float64 { return p.P9999 }},
	{"max", func(p *Pcts) float64 { return p.Max }},
}

// bytesTargets: the byte queue at least 3× the best alternative at every
// size and producer count (both foreign_post and foreign_postv), at least
// half memcpy's bandwidth at 64 KiB, and no allocation per message.
func bytesTargets(r *Report) []Target {
	var ts []Target
	worst := -1.0
	for _, k := range r.cases(scBytes) {
		best := r.bestAlt(k)
		var parts []string
		met, any := true, false
		for _, s := range byteQueues {
			c := r.find(scBytes, k, string(s))
			if c == nil {
				continue
			}
			worst = max(worst, c.Allocs)
			if best == nil {
				continue
			}
			any = true
			parts = append(parts, fmt.Sprintf("%s %s", strings.TrimPrefix(string(s), "foreign_"), ratio(c.Median, best.Median)))
			met = met && c.Median >= 3*best.Median
		}
		if any {
			ts = append(ts, Target{"bytes vs best alternative, " + k, "≥ 3×",
				strings.Join(parts, ", ") + " (vs " + best.Strategy + ")", met})
		}
	}
	for _, n := range bytesProducers {
		k := bytesCase(64<<10, n)
		m := r.memcpyOf(64 << 10)
		if m == nil {
			continue
		}
		var parts []string
		met, any := true, false
		for _, s := range byteQueues {
			if c := r.find(scBytes, k, string(s)); c != nil {
				any = true
				parts = append(parts, fmt.Sprintf("%s %s", strings.TrimPrefix(string(s), "foreign_"), ratio(c.MedianMB, m.MedianMB)))
				met = met && c.MedianMB >= 0.5*m.MedianMB
			}
		}
		if any {
			ts = append(ts, Target{fmt.Sprintf("bytes MB/s vs memcpy, size=64 KiB producers=%d", n), "≥ 0.5×",
				strings.Join(parts, ", ") + " (memcpy " + mbps(m.MedianMB) + ")", met})
		}
	}
	if worst >= 0 {
		ts = append(ts, Target{"bytes: Go allocations per message (whole process), worst byte-queue cell", "0",
			fmt.Sprintf("%.4f", worst), worst < 0.001})
	}
	return ts
}
