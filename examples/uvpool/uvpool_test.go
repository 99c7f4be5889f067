package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/foreigncall/foreign"
	"github.com/foreigncall/foreign/examples/internal/kit"
)

// TestSideBySide runs work items on libuv's real thread pool, bound with
// foreign_call and foreign_post_wait and with //export calls, with and
// without garbage-collector pressure; checks every result of every run; and
// logs the figures (reported, not asserted: they depend on the machine).
func TestSideBySide(t *testing.T) {
	machine := kit.Machine() // before the runs load it
	n := 20000
	if kit.Race {
		n = 5000
	}
	var rows []kit.Row
	threads := 0
	for _, gc := range []bool{false, true} {
		for _, mode := range []Mode{Foreign, Export} {
			out, err := experiment{mode: mode, n: n, gc: gc}.run()
			if err != nil {
				t.Errorf("%v, gc %v: %v", mode, gc, err)
			}
			if out.stats.Lost != 0 {
				t.Logf("%v, gc %v: %d posts refused (%v), counted and accounted for", mode, gc, out.stats.Lost, out.stats.LastErr)
			}
			threads = max(threads, out.threads)
			rows = append(rows, out.call, out.post)
		}
	}
	t.Logf("libuv, %d work items per run on %d pool threads (race detector: %v; %s):\n%s", n, threads, kit.Race, machine, kit.Table(rows))
}

// TestPanicInDecide checks that a panic in the Go function answers the
// foreign_call with FOREIGN_EPANIC: the work item produces nothing, the
// pool thread carries on, and the failure is counted.
func TestPanicInDecide(t *testing.T) {
	var handled int
	var panics []string
	st, err := Job{
		Items: 10, Mode: Foreign,
		Decide: func(a Arg) Decision {
			if a.Item == 3 {
				panic("no decision for item 3")
			}
			return decision(1, a.Item)
		},
		Handle:  func(Result) { handled++ },
		OnPanic: func(e *foreign.PanicError) { panics = append(panics, fmt.Sprint(e.Value)) },
	}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != 10 || st.CallFailed != 1 || handled != 9 || st.Calls.Panics != 1 {
		t.Errorf("done %d, failed calls %d, handled %d, panics %d; want 10, 1, 9, 1", st.Done, st.CallFailed, handled, st.Calls.Panics)
	}
	if len(panics) != 1 || !strings.Contains(panics[0], "item 3") || !errors.Is(st.LastErr, foreign.ErrPanic) {
		t.Errorf("panics reported %q, last error %v", panics, st.LastErr)
	}
}
