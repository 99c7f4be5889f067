// hooks.go: test hooks: the wait path, the call slots' generations.

package fq

// SetFutex switches the C waits between futex(2) and the portable
// condition-variable fallback, and returns the previous setting. A test
// hook: the tests run both wait paths on Linux.
func SetFutex(on bool) (was bool) { return cSetFutex(on) }

// SkipCallGens advances the calling thread's call slot by n generations,
// as n foreign_calls would, so that a test reaches the wrap of the slot's
// 24-bit state generation at once. The goroutine must be locked to its
// thread.
func SkipCallGens(n uint64) { cSkipCallGens(n) }
