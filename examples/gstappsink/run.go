package main

import (
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// experiment is one end-to-end run: a real pipeline makes frames frames,
// the binding hands them to Go with mode, and every frame is checked: its
// length, its bytes against the CRC-32 computed in C, its time stamp, and
// that each arrives once, in order. The test and main both run it.
type experiment struct {
	mode          Mode
	frames        int
	width, height int
	gc            bool          // run under kit.Garbage
	capacity      int           // the ring's bytes; 0: Config's default
	wait          time.Duration // Config.Wait
	slow          time.Duration // the handler sleeps this long on frame 0: a stalled consumer
	perFrame      time.Duration // and this long on every frame: a slow one
}

type outcome struct {
	row    kit.Row
	report kit.Report
	stats  Stats
	bytes  uint64 // frame bytes that arrived
}

func (e experiment) run() (outcome, error) {
	var out outcome
	cfg := Config{
		Frames: e.frames, Width: e.width, Height: e.height, Mode: e.mode,
		Capacity: e.capacity, Wait: e.wait, Timings: true,
	}
	size := cfg.FrameSize()
	check := kit.NewChecker(e.frames)
	var bytes atomic.Uint64
	handler := func(f Frame) {
		if f.Seq == 0 && e.slow > 0 {
			time.Sleep(e.slow)
		}
		if e.perFrame > 0 {
			time.Sleep(e.perFrame)
		}
		bytes.Add(uint64(len(f.Data)))
		// videotestsrc stamps frame n with n seconds * 1/30, rounded down.
		pts := time.Duration(f.Seq * uint64(time.Second) / 30)
		switch {
		case len(f.Data) != size:
			check.Corrupt(fmt.Sprintf("frame %d: %d bytes, want %d", f.Seq, len(f.Data), size))
		case crc32.ChecksumIEEE(f.Data) != f.Hash:
			check.Corrupt(fmt.Sprintf("frame %d: CRC-32 %08x, the streaming thread's %08x", f.Seq, crc32.ChecksumIEEE(f.Data), f.Hash))
		case f.PTS != pts:
			check.Corrupt(fmt.Sprintf("frame %d: PTS %v, want %v", f.Seq, f.PTS, pts))
		default:
			check.Seq(f.Seq)
		}
	}
	var stopGC func() uint64
	if e.gc {
		stopGC = kit.Garbage(2)
	}
	start := time.Now()
	st, err := Run(cfg, handler)
	elapsed := time.Since(start)
	var gcs uint64
	if stopGC != nil {
		gcs = stopGC()
	}
	out.stats, out.report, out.bytes = st, check.Report(), bytes.Load()
	out.row = kit.Row{
		Binding: e.mode.String(), GC: e.gc, Messages: e.frames, Waited: st.Waited, Lost: st.Lost,
		Elapsed: elapsed, GCCycles: gcs, Callback: kit.Summarize(st.Timings),
		Slept: st.Slept, Preempted: st.Preempted,
	}
	switch {
	case err != nil:
		return out, err
	case st.Unmapped != 0 || st.Malformed != 0:
		return out, fmt.Errorf("%d samples not mapped, %d malformed queue messages", st.Unmapped, st.Malformed)
	case st.Callbacks != uint64(e.frames):
		return out, fmt.Errorf("the pipeline made %d frames, want %d", st.Callbacks, e.frames)
	}
	return out, out.report.Check(st.Lost, true)
}
