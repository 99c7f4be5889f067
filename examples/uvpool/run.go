package main

import (
	"fmt"
	"hash/crc32"
	"sync"
	"time"

	"github.com/foreigncall/foreign/examples/internal/kit"
)

// decision is what Go tells item to produce: a pure function of the item
// and the run's salt, so that the result can be checked against it.
func decision(salt uint64, item uint32) Decision {
	x := (uint64(item) + salt) * 0x9E3779B97F4A7C15
	x ^= x >> 31
	return Decision{Seed: x, Size: uint32(16 + x%(MaxSize-15))}
}

// verifier checks results: each item once, made from the decision Go gave
// it (seed, size, CRC of the bytes), and in increasing item order on each
// pool thread, which libuv's first-in, first-out pool and foreign's
// per-thread order together promise.
type verifier struct {
	salt  uint64
	check *kit.Checker

	mu      sync.Mutex // Export calls handle from several pool threads
	last    map[int32]uint32
	buf     []byte
	wrong   int
	reorder int
	first   string
}

func newVerifier(n int, salt uint64) *verifier {
	return &verifier{salt: salt, check: kit.NewChecker(n), last: map[int32]uint32{}, buf: make([]byte, MaxSize)}
}

func (v *verifier) handle(r Result) {
	v.mu.Lock()
	want := decision(v.salt, r.Item)
	b := v.buf[:min(r.Size, MaxSize)]
	kit.Fill(b, r.Seed)
	if r.Seed != want.Seed || r.Size != want.Size || r.CRC != crc32.ChecksumIEEE(b) {
		v.wrong++
		v.note(fmt.Sprintf("item %d: seed %x size %d crc %08x; want seed %x size %d", r.Item, r.Seed, r.Size, r.CRC, want.Seed, want.Size))
	}
	if last, ok := v.last[r.Tid]; ok && r.Item <= last {
		v.reorder++
		v.note(fmt.Sprintf("thread %d: item %d after %d", r.Tid, r.Item, last))
	}
	v.last[r.Tid] = r.Item
	v.mu.Unlock()
	v.check.Seq(uint64(r.Item)) // across threads, order is not promised
}

func (v *verifier) note(s string) {
	if v.first == "" {
		v.first = s
	}
}

// experiment runs n work items in mode and checks every result.
type experiment struct {
	mode Mode
	n    int
	gc   bool
}

type outcome struct {
	call, post kit.Row
	stats      Stats
	report     kit.Report
	threads    int
}

func (e experiment) run() (outcome, error) {
	var out outcome
	salt := uint64(time.Now().UnixNano())
	v := newVerifier(e.n, salt)
	var stopGC func() uint64
	if e.gc {
		stopGC = kit.Garbage(2)
	}
	start := time.Now()
	st, err := Job{
		Items: e.n, Mode: e.mode,
		Decide:  func(a Arg) Decision { return decision(salt, a.Item) },
		Handle:  v.handle,
		Timings: true,
	}.Run()
	elapsed := time.Since(start)
	var gcs uint64
	if stopGC != nil {
		gcs = stopGC()
	}
	out.stats, out.report, out.threads = st, v.check.Report(), len(v.last)
	name := map[Mode][2]string{Foreign: {"foreign_call", "foreign_post"}, Export: {"export decide", "export result"}}[e.mode]
	out.call = kit.Row{
		Binding: name[0], GC: e.gc, Messages: e.n, Elapsed: elapsed, GCCycles: gcs,
		Callback: kit.Summarize(st.CallTimes), Slept: st.CallSlept, Preempted: st.CallPreempted,
	}
	out.post = kit.Row{
		Binding: name[1], GC: e.gc, Messages: e.n, Waited: st.Waited, Lost: st.Lost, Elapsed: elapsed, GCCycles: gcs,
		Callback: kit.Summarize(st.PostTimes), Slept: st.PostSlept, Preempted: st.PostPreempted,
	}
	switch {
	case err != nil:
		return out, err
	case st.Done != uint64(e.n):
		return out, fmt.Errorf("%d of %d work requests completed", st.Done, e.n)
	case st.CallFailed != 0:
		return out, fmt.Errorf("%d decisions failed (last: %v)", st.CallFailed, st.LastErr)
	case v.wrong != 0 || v.reorder != 0:
		return out, fmt.Errorf("%d results wrong, %d out of order on their thread; first: %s", v.wrong, v.reorder, v.first)
	}
	return out, out.report.Check(st.Lost, false)
}
