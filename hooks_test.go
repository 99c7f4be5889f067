package foreign

import "github.com/foreigncall/foreign/internal/fq"

// withHooks makes the handles that f opens with the test settings h (a
// starting position, the pipe wake-up). Tests do not run in parallel, so
// one package variable serves.
func withHooks(h hooks, f func()) {
	was := testHooks
	testHooks = h
	defer func() { testHooks = was }()
	f()
}

// cSetFutex switches the C waits between futex(2) and the condition
// variable fallback, so that the tests run both.
func cSetFutex(on bool) (was bool) { return fq.SetFutex(on) }

// posBits is the width of ring positions, which wrap (the stress test
// starts just below the wrap).
const posBits = fq.PosBits
