package main

import (
	"errors"
	"testing"
	"time"

	"github.com/foreigncall/foreign"
	"github.com/foreigncall/foreign/examples/internal/kit"
)

// TestSideBySide runs a real pipeline (videotestsrc ! appsink) at two frame
// sizes through the foreign_postv binding and the //export one, with and
// without garbage-collector pressure; every frame must arrive, intact (its
// bytes match the CRC-32 computed in C over the mapped buffer), in order,
// with its time stamp. The figures are logged, not asserted.
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	for _, sz := range []struct{ w, h, n int }{{64, 48, 300}, {640, 480, 60}} {
		var rows []kit.Row
		for _, gc := range []bool{false, true} {
			for _, mode := range []Mode{Post, Export} {
				out, err := experiment{mode: mode, frames: sz.n, width: sz.w, height: sz.h, gc: gc}.run()
				if err != nil {
					t.Errorf("%dx%d, %v, gc %v: %v", sz.w, sz.h, mode, gc, err)
				}
				if out.stats.Lost != 0 {
					t.Errorf("%dx%d, %v, gc %v: %d frames lost (%v)", sz.w, sz.h, mode, gc, out.stats.Lost, out.stats.LastErr)
				}
				rows = append(rows, out.row)
			}
		}
		t.Logf("videotestsrc ! appsink, %d frames of %dx%d RGB (%d bytes) per run (race detector: %v; %s):\n%s",
			sz.n, sz.w, sz.h, Config{Width: sz.w, Height: sz.h}.FrameSize(), kit.Race, machine, kit.Table(rows))
	}
}

// TestBackPressure runs frames into a ring with room for only a few and a
// handler slower than the pipeline: the streaming thread must wait for room
// (foreign_postv_wait) rather than lose frames, and every frame arrives.
func TestBackPressure(t *testing.T) {
	out, err := experiment{mode: Post, frames: 100, width: 64, height: 48, capacity: 1, perFrame: 200 * time.Microsecond}.run()
	if err != nil {
		t.Fatal(err)
	}
	if out.stats.Waited == 0 || out.stats.Lost != 0 {
		t.Errorf("%d posts waited, %d lost: want some waits and no loss", out.stats.Waited, out.stats.Lost)
	}
	t.Logf("a ring of %d bytes (%d frames of %d bytes): %d of %d posts waited for room; streaming thread %v",
		out.stats.Queue.Capacity, out.stats.Queue.Capacity/(Config{Width: 64, Height: 48}.FrameSize()+headerSize+8),
		Config{Width: 64, Height: 48}.FrameSize(), out.stats.Waited, out.stats.Callbacks, out.row.Callback)
}

// TestWaitBounded stalls the handler on the first frame for longer than the
// streaming thread waits for room: the frames that find the queue full
// meanwhile are refused with FOREIGN_ETIMEDOUT and counted, never lost
// silently, the pipeline runs to its end, and no hand-off takes much longer
// than the bound.
func TestWaitBounded(t *testing.T) {
	const wait = 20 * time.Millisecond
	out, err := experiment{mode: Post, frames: 50, width: 64, height: 48, capacity: 1, wait: wait, slow: 300 * time.Millisecond}.run()
	if err != nil {
		t.Fatal(err) // includes: a frame missing that was not counted lost
	}
	if out.stats.Lost == 0 || !errors.Is(out.stats.LastErr, foreign.ErrTimeout) {
		t.Errorf("%d frames lost (%v): want some, timed out", out.stats.Lost, out.stats.LastErr)
	}
	if max := out.row.Callback.Max; max > wait+250*time.Millisecond {
		t.Errorf("a hand-off took %v, with waits bounded at %v", max, wait)
	}
	t.Logf("handler stalled 300 ms, waits bounded at %v: %d of %d frames refused (%v) and counted, the rest intact; streaming thread %v",
		wait, out.stats.Lost, out.stats.Callbacks, out.stats.LastErr, out.row.Callback)
}
