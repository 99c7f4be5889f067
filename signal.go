// signal.go: what notifiers and interrupts share: a handle with no ring,
// triggered through its sig word (the protocol's "Signals").

package foreign

import (
	"fmt"
	"sync/atomic"

	"github.com/foreigncall/foreign/internal/fq"
)

// openSig opens a handle with no ring, triggered through its sig word
// (block.h, "Signals").
func openSig(kind int, withFd bool, loop *Loop) (opened, error) {
	o, err := open(fq.OpenArgs{Kind: kind, WithFd: withFd}, loop)
	if err != nil {
		return opened{}, fmt.Errorf("foreign: open: %w", err)
	}
	return o, nil
}

// call runs f as a handler: counted, its thread marked as serving the
// handle, a panic recovered and reported.
func (h *core) call(runs *atomic.Uint64, f func()) {
	old := h.h.Enter()
	defer h.h.Leave(old)
	defer endRegion(startRegion(h.region, h.name))
	runs.Add(1)
	h.safely(f)
}

func (h *core) sigStats(runs uint64) Stats {
	b := h.h.Counts()
	return Stats{Delivered: runs, Panics: h.panics.Load(), RejectedClosed: b.RejectedClosed, Wakeups: b.Wakeups}
}
