//go:build foreign_portable

package fq

import "testing"

// Built with -tags foreign_portable, the library uses the portable pieces
// of sys.c on Linux too: a pipe to wake a consumer, a mutex and condition
// variable to sleep on a word (CI runs the whole suite so).
func TestPortableBuild(t *testing.T) {
	if cSetFutex(true); cUsingFutex() {
		t.Error("futex(2) in a foreign_portable build")
	}
	h, err := Open(OpenArgs{MsgSize: 8, Capacity: 8, Kind: KindQueue})
	if err != nil {
		t.Fatal(err)
	}
	if k := h.c.wakeKind.Load(); k != uint32(wakePipe) {
		t.Errorf("wake kind %d, want the pipe (%d)", k, wakePipe)
	}
	h.Discard()
}
