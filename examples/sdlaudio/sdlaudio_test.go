package main

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

const runFor = time.Second

// minCallbacks is the fewest callbacks a run of d must see: half of what
// the period makes, so a loaded machine passes and a stalled thread fails.
func minCallbacks(d time.Duration) uint64 {
	return uint64(d / Config{Samples: 2048, Freq: 48000}.Period() / 2)
}

// TestSideBySide plays the tone through SDL's dummy driver (48 kHz stereo
// S16, 2048 frames = 8 KiB a callback) with the foreign_callv binding and
// the //export one, with and without garbage-collector pressure. Every
// buffer played must be the tone recomputed from its request, or silence
// where the call timed out; the counts and times are logged.
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	var names []string
	var outs []outcome
	for _, gc := range []bool{false, true} {
		for _, mode := range []Mode{Call, Export} {
			out, err := experiment{mode: mode, duration: runFor, gc: gc}.run()
			if err != nil {
				t.Errorf("%v, gc %v: %v", mode, gc, err)
			}
			if min := minCallbacks(runFor); out.stats.Callbacks < min {
				t.Errorf("%v, gc %v: %d callbacks in %v, want at least %d", mode, gc, out.stats.Callbacks, runFor, min)
			}
			names = append(names, mode.String())
			outs = append(outs, out)
		}
	}
	t.Logf("SDL dummy driver, %v per run, callbacks every %v (race detector: %v; %s):\n%s",
		runFor, outs[0].cfg.Period().Round(10*time.Microsecond), kit.Race, machine, table(names, outs))
}

// TestSlowRender makes every third render sleep a whole period, longer
// than the call's timeout. With foreign_callv those buffers time out and
// are played as silence, the others are the tone, and the audio thread
// never waits much past the timeout: it keeps its pace. With //export the
// audio thread itself sleeps in the render, a period at a time, and has
// nothing to play meanwhile.
func TestSlowRender(t *testing.T) {
	period := Config{Samples: 2048, Freq: 48000}.Period()
	var names []string
	var outs []outcome
	for _, mode := range []Mode{Call, Export} {
		out, err := experiment{mode: mode, duration: runFor, slowEvery: 3, slowBy: period}.run()
		if err != nil {
			t.Errorf("%v: %v", mode, err)
		}
		st, l := out.stats, kit.Summarize(out.stats.Timings)
		switch mode {
		case Call:
			if st.Silent == 0 || st.Late == 0 || st.Func.LateResults == 0 {
				t.Errorf("callv: %d silent, %d late, %d late results: want some of each", st.Silent, st.Late, st.Func.LateResults)
			}
			if bound := out.cfg.Timeout + 100*time.Millisecond; l.Max > bound {
				t.Errorf("callv: a callback waited %v, with a timeout of %v", l.Max, out.cfg.Timeout)
			}
			if min := minCallbacks(runFor); st.Callbacks < min {
				t.Errorf("callv: %d callbacks in %v, want at least %d", st.Callbacks, runFor, min)
			}
		case Export:
			if st.Silent != 0 || l.Max < period {
				t.Errorf("export: %d silent, longest callback %v: want none, and at least %v", st.Silent, l.Max, period)
			}
		}
		names = append(names, fmt.Sprintf("%v, slow 1/3", mode))
		outs = append(outs, out)
	}
	t.Logf("SDL dummy driver, %v per run, every third render sleeping %v (timeout %v):\n%s",
		runFor, period.Round(10*time.Microsecond), outs[0].cfg.Timeout.Round(10*time.Microsecond), table(names, outs))
}

// TestTone checks the generator the other checks rely on: its samples are
// the sines, and a buffer from a position continues the one before it.
func TestTone(t *testing.T) {
	tone := NewTone(48000, 2)
	a := tone.Render(Request{Pos: 1000, Len: 400}, nil)
	b := tone.Render(Request{Pos: 1100, Len: 400}, nil)
	whole := tone.Render(Request{Pos: 1000, Len: 800}, nil)
	if string(append(a, b...)) != string(whole) {
		t.Error("two buffers from consecutive positions differ from one buffer over both")
	}
	// Frame 12 at 440 Hz and 660 Hz: phases 12*440/48000 and 12*660/48000.
	l, r := int16(uint16(whole[48])|uint16(whole[49])<<8), int16(uint16(whole[50])|uint16(whole[51])<<8)
	if l != tone.table[(1012*440)%48000] || r != tone.table[(1012*660)%48000] || l == 0 || r == 0 {
		t.Errorf("frame 1012: %d, %d", l, r)
	}
}

// TestCheck checks the check: records made from the tone and from silence
// pass, and a buffer played at the wrong position, silence counted as the
// tone, a gap in the positions or a miscount fail.
func TestCheck(t *testing.T) {
	tone := NewTone(48000, 2)
	const n = 8192
	// rec is callback seq at pos; it played the tone from frame from, or
	// silence if from is negative.
	rec := func(seq, pos uint64, code int32, from int) Record {
		r := Record{Seq: seq, Pos: pos, Code: code, Len: n}
		buf := make([]byte, n)
		if from >= 0 {
			buf = tone.Render(Request{Pos: uint64(from), Len: n}, nil)
			r.Got = n
		}
		h := fnv.New64a()
		h.Write(buf)
		r.Hash = h.Sum64()
		return r
	}
	good := []Record{rec(0, 0, 0, 0), rec(1, 2048, -4, -1), rec(2, 4096, 0, 4096)}
	st := Stats{Callbacks: 3, Silent: 1}
	if err := check(good, tone, st); err != nil {
		t.Fatalf("good records: %v", err)
	}
	for name, recs := range map[string][]Record{
		"wrong position":       {good[0], good[1], rec(2, 4096, 0, 2048)},
		"silence, not counted": {good[0], rec(1, 2048, 0, -1), good[2]},
		"tone as silence":      {good[0], rec(1, 2048, -4, 2048), good[2]},
		"position gap":         {good[0], good[1], rec(2, 6144, 0, 6144)},
	} {
		if err := check(recs, tone, st); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	if err := check(good, tone, Stats{Callbacks: 3, Silent: 2}); err == nil {
		t.Error("a miscount of silent buffers passed")
	}
}
