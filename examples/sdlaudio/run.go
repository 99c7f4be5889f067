package main

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// Tone is the waveform the Go side plays: a sine per channel (440 Hz on
// the first, 660 Hz on the second, ...), at three quarters of full scale.
// Its phase is a counter in units of 1/Freq of a cycle, advanced by the
// channel's frequency every frame, and it starts each buffer from the
// stream position the audio thread asks for: a buffer lost to a timeout
// leaves a gap of silence, and the tone goes on in phase after it, as
// with a device clock. So any buffer can be recomputed from its request,
// which is what the check does.
type Tone struct {
	freq, channels int
	hz             []uint64
	table          []int16 // one cycle: table[k] = sin(2πk/freq)
}

// NewTone returns the tone for freq frames per second and channels
// channels.
func NewTone(freq, channels int) *Tone {
	t := &Tone{freq: freq, channels: channels, table: make([]int16, freq)}
	for ch := range channels {
		t.hz = append(t.hz, uint64(440+220*ch))
	}
	for k := range t.table {
		t.table[k] = int16(math.Round(0.75 * math.MaxInt16 * math.Sin(2*math.Pi*float64(k)/float64(freq))))
	}
	return t
}

// Render appends req.Len bytes of the tone from frame req.Pos to out: the
// Config.Render of the example.
func (t *Tone) Render(req Request, out []byte) []byte {
	f := uint64(t.freq)
	var phase [8]uint64
	for ch := range t.channels {
		phase[ch] = req.Pos % f * t.hz[ch] % f // no overflow for any position
	}
	for range int(req.Len) / (2 * t.channels) {
		for ch := range t.channels {
			out = binary.NativeEndian.AppendUint16(out, uint16(t.table[phase[ch]]))
			if phase[ch] += t.hz[ch]; phase[ch] >= f {
				phase[ch] -= f
			}
		}
	}
	return out
}

// experiment is one run: a device plays the tone for a while, and every
// callback it recorded is checked. The test and main both run it.
type experiment struct {
	mode     Mode
	driver   string
	duration time.Duration
	gc       bool // run under kit.Garbage
	// Every slowEvery-th render sleeps slowBy first: a Go side that
	// misses the period on purpose.
	slowEvery uint64
	slowBy    time.Duration
}

type outcome struct {
	stats   Stats
	cfg     Config
	checked int // callbacks recorded and checked
	gc      bool
	gcs     uint64
}

func (e experiment) run() (outcome, error) {
	out := outcome{gc: e.gc}
	tone := NewTone(48000, 2)
	cfg := Config{
		Driver: e.driver, Freq: 48000, Channels: 2, Samples: 2048, Mode: e.mode,
		Records: 1 << 14, Timings: 1 << 14,
		Render: func(req Request, b []byte) []byte {
			if e.slowEvery > 0 && req.Seq%e.slowEvery == e.slowEvery-1 {
				time.Sleep(e.slowBy)
			}
			return tone.Render(req, b)
		},
	}
	d, err := Open(cfg)
	if err != nil {
		return out, err
	}
	out.cfg = d.Config()
	var stopGC func() uint64
	if e.gc {
		stopGC = kit.Garbage(2)
	}
	d.Start()
	time.Sleep(e.duration)
	d.Close()
	if stopGC != nil {
		out.gcs = stopGC()
	}
	out.stats = d.Stats()
	recs := d.Records()
	out.checked = len(recs)
	switch {
	case out.stats.Callbacks == 0:
		return out, fmt.Errorf("no callback in %v", e.duration)
	case out.stats.Bad != 0 || out.stats.Short != 0:
		return out, fmt.Errorf("%d malformed requests or answers, %d short ones", out.stats.Bad, out.stats.Short)
	}
	return out, check(recs, tone, out.stats)
}

// check recomputes every recorded buffer from its request (the tone from
// its position, then silence from what Go returned on) and compares it
// with the hash the audio thread made of what it played. The positions
// must follow on, and the silent buffers add up to the count.
func check(recs []Record, tone *Tone, st Stats) error {
	var pos uint64
	var nsilent uint64
	h := fnv.New64a()
	var buf []byte
	for i, r := range recs {
		if r.Seq != uint64(i) || r.Pos != pos {
			return fmt.Errorf("callback %d: seq %d, position %d, want %d", i, r.Seq, r.Pos, pos)
		}
		pos += uint64(r.Len) / uint64(2*tone.channels)
		buf = buf[:0]
		if r.Code == 0 {
			buf = tone.Render(Request{Seq: r.Seq, Pos: r.Pos, Len: r.Got}, buf)
		} else {
			nsilent++
		}
		buf = append(buf, make([]byte, int(r.Len)-len(buf))...)
		h.Reset()
		h.Write(buf)
		if got := h.Sum64(); got != r.Hash {
			what := "the tone"
			if r.Code != 0 {
				what = "silence"
			}
			return fmt.Errorf("callback %d (position %d): played a buffer of hash %016x, not %s (%016x)", i, r.Pos, r.Hash, what, got)
		}
	}
	if uint64(len(recs)) == st.Callbacks && nsilent != st.Silent {
		return fmt.Errorf("%d silent buffers recorded, %d counted", nsilent, st.Silent)
	}
	return nil
}

// table formats outcomes: what the audio thread did, and its time in the
// hand-off.
func table(names []string, outs []outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-3s %9s %6s %5s %5s %9s %9s %9s %9s %6s %7s\n",
		"binding", "gc", "callbacks", "silent", "late", "lateR", "cb p50", "cb p99", "cb max", "timeout", "slept", "preempt")
	for i, o := range outs {
		gc := "off"
		if o.gc {
			gc = "on"
		}
		l := kit.Summarize(o.stats.Timings)
		timeout := "-"
		if o.cfg.Mode == Call {
			timeout = o.cfg.Timeout.Round(10 * time.Microsecond).String()
		}
		fmt.Fprintf(&b, "%-16s %-3s %9d %6d %5d %5d %9v %9v %9v %9s %6d %7d\n",
			names[i], gc, o.stats.Callbacks, o.stats.Silent, o.stats.Late, o.stats.Func.LateResults,
			round(l.P50), round(l.P99), round(l.Max), timeout, o.stats.Slept, o.stats.Preempted)
	}
	return b.String()
}

// round keeps three significant digits, enough to compare.
func round(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Second; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d.Round(time.Millisecond)
}
