// trace.go: runtime/trace regions around handler batches, calls and
// signal handlers, so that go tool trace shows where delivery time went,
// next to GC and scheduling.

package foreign

import (
	"context"
	"runtime/trace"
)

// The region types, one per kind of handle, so that the trace groups them;
// the handle's Name is logged at the start of each region (category
// "foreign.handle").
const (
	regionQueue     = "foreign.Queue"
	regionFunc      = "foreign.Func"
	regionNotifier  = "foreign.Notifier"
	regionInterrupt = "foreign.Interrupt"

	// A Func with workers: its consumer only hands calls to them, and
	// each call runs in a foreign.Func region on its worker.
	regionDispatch = "foreign.Func.dispatch"
)

// startRegion starts a region of the given type for the named handle, or
// returns nil when tracing is off (the common case costs one atomic load
// and allocates nothing). End it with endRegion.
func startRegion(typ, name string) *trace.Region {
	if !trace.IsEnabled() {
		return nil
	}
	ctx := context.Background()
	r := trace.StartRegion(ctx, typ)
	trace.Log(ctx, "foreign.handle", name) // inside the region
	return r
}

func endRegion(r *trace.Region) {
	if r != nil {
		r.End()
	}
}
